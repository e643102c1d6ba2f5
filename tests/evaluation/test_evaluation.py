"""Retrieval metrics against pytrec_eval, and `qwen3-rag eval` on a hand-written BEIR-format dataset."""

from __future__ import annotations

import json
import math
import random
import shutil

import pytest
import pytrec_eval
from source_tree import BEIR_TINY

from qwen3_rag.cli import main
from qwen3_rag.evaluation import load_beir, mean_metrics, mrr_at_k, ndcg_at_k, recall_at_k


def test_metrics_on_a_hand_computed_example():
    ranking, qrels = ["a", "b", "c"], {"b": 2, "c": 1, "d": 1, "e": 0}
    dcg = 2 / math.log2(3) + 1 / math.log2(4)
    ideal = 2 / math.log2(2) + 1 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at_k(ranking, qrels, 10) == pytest.approx(dcg / ideal)
    assert recall_at_k(ranking, qrels, 100) == pytest.approx(2 / 3)
    assert mrr_at_k(ranking, qrels, 10) == 0.5
    assert mrr_at_k(ranking, qrels, 1) == 0.0  # the first relevant document is at rank 2


def _pytrec(run: dict[str, list[str]], qrels: dict[str, dict[str, int]], measures: set[str]) -> dict[str, dict]:
    # Distinct descending scores, so trec_eval's order is exactly the ranking's.
    scored = {q: {doc: float(len(docs) - rank) for rank, doc in enumerate(docs)} for q, docs in run.items()}
    return pytrec_eval.RelevanceEvaluator(qrels, measures).evaluate(scored)


def _random_judgements(seed: int) -> tuple[dict[str, list[str]], dict[str, dict[str, int]]]:
    rng = random.Random(seed)
    docs = [f"d{i}" for i in range(300)]
    run, qrels = {}, {}
    for q in range(25):
        run[f"q{q}"] = rng.sample(docs, 150)
        judged = rng.sample(docs, rng.randint(1, 40))
        qrels[f"q{q}"] = {doc: rng.choice([0, 1, 1, 2, 3]) for doc in judged}
        qrels[f"q{q}"][judged[0]] = rng.choice([1, 2, 3])  # at least one relevant document per query
    return run, qrels


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_metrics_equal_pytrec_eval(seed):
    run, qrels = _random_judgements(seed)
    reference = _pytrec(run, qrels, {"ndcg_cut.10", "recall.100"})
    # trec_eval's recip_rank has no cut-off: MRR@10 is its value on the top 10 only.
    reciprocal = _pytrec({q: docs[:10] for q, docs in run.items()}, qrels, {"recip_rank"})
    for query, ranking in run.items():
        assert ndcg_at_k(ranking, qrels[query], 10) == pytest.approx(reference[query]["ndcg_cut_10"], abs=1e-12)
        assert recall_at_k(ranking, qrels[query], 100) == pytest.approx(reference[query]["recall_100"], abs=1e-12)
        assert mrr_at_k(ranking, qrels[query], 10) == pytest.approx(reciprocal[query]["recip_rank"], abs=1e-12)
    means = mean_metrics(run, qrels)
    assert means["nDCG@10"] == pytest.approx(sum(r["ndcg_cut_10"] for r in reference.values()) / len(run))


def test_load_beir_joins_title_and_text():
    dataset = load_beir(BEIR_TINY)
    assert dataset.corpus["d1"] == "Beijing Beijing is the capital of China."
    assert dataset.corpus["d3"] == "Gravity is a force that attracts two bodies towards each other."  # empty title
    assert dataset.qrels["q2"] == {"d3": 2, "d8": 1}
    assert "q5" not in dataset.qrels


def _expected(embedder, reranker) -> dict[str, dict[str, float]]:
    """The two-stage evaluation written out with the core and pytrec_eval."""
    dataset = load_beir(BEIR_TINY)
    doc_ids = list(dataset.corpus)
    query_ids = list(dataset.qrels)
    similarity = (
        embedder.embed_queries([dataset.queries[q] for q in query_ids])
        @ embedder.embed_documents([dataset.corpus[d] for d in doc_ids]).T
    )
    retrieved = {q: [doc_ids[i] for i in (-similarity[n]).argsort(kind="stable")] for n, q in enumerate(query_ids)}
    reranked = {}
    for q, docs in retrieved.items():
        ranking = reranker.rerank(dataset.queries[q], [dataset.corpus[d] for d in docs])
        reranked[q] = [docs[r.index] for r in ranking]
    stages = {}
    for name, run in {"embedding": retrieved, "embedding top-10 + rerank": reranked}.items():
        per_query = _pytrec(run, dataset.qrels, {"ndcg_cut.10", "recall.100"})
        reciprocal = _pytrec({q: d[:10] for q, d in run.items()}, dataset.qrels, {"recip_rank"})
        stages[name] = {
            "nDCG@10": sum(r["ndcg_cut_10"] for r in per_query.values()) / len(run),
            "Recall@100": sum(r["recall_100"] for r in per_query.values()) / len(run),
            "MRR@10": sum(r["recip_rank"] for r in reciprocal.values()) / len(run),
        }
    return stages


def test_eval_command_matches_core_and_pytrec_eval(tiny_models, embedder, reranker, capsys):
    status = main(
        [
            "-q",
            "eval",
            str(BEIR_TINY),
            "--embedding-model",
            tiny_models.embedding,
            "--reranker-model",
            tiny_models.reranker,
            "--device",
            "cpu",
            "--json",
        ]
    )
    assert status == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["queries"], report["documents"]) == (4, 10)
    expected = _expected(embedder, reranker)
    assert report["stages"].keys() == expected.keys()
    for stage, values in expected.items():
        for metric, value in values.items():
            assert report["stages"][stage][metric] == pytest.approx(value, abs=1e-9), (stage, metric)


def test_eval_table_limit_and_no_rerank(tiny_models, capsys):
    status = main(
        [
            "-q",
            "eval",
            str(BEIR_TINY),
            "--embedding-model",
            tiny_models.embedding,
            "--device",
            "cpu",
            "--limit",
            "2",
            "--no-rerank",
        ]
    )
    assert status == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["stage", "nDCG@10", "Recall@100", "MRR@10"]
    assert len(table) == 2 and table[1].startswith("embedding ")
    status = main(
        [
            "eval",
            str(BEIR_TINY),
            "--embedding-model",
            tiny_models.embedding,
            "--device",
            "cpu",
            "--limit",
            "2",
            "--no-rerank",
            "--json",
        ]
    )
    captured = capsys.readouterr()
    assert json.loads(captured.out)["queries"] == 2
    assert "2 queries over 10 documents" in captured.err  # the summary line


def test_eval_rejects_a_broken_dataset_in_one_line(tiny_models, tmp_path, capsys):
    broken = tmp_path / "broken"
    shutil.copytree(BEIR_TINY, broken)
    with open(broken / "qrels" / "test.tsv", "a") as qrels:
        qrels.write("q1\tmissing-doc\t1\n")
    status = main(["eval", str(broken), "--embedding-model", tiny_models.embedding, "--device", "cpu"])
    err = capsys.readouterr().err
    assert status == 1
    assert err.startswith("qwen3-rag: error: ") and "missing-doc" in err and "Traceback" not in err
    assert main(["eval", str(tmp_path / "nowhere"), "--embedding-model", tiny_models.embedding]) == 1
    assert "corpus.jsonl does not exist" in capsys.readouterr().err
