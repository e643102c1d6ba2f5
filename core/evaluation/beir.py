"""Retrieval evaluation on a BEIR-format folder, as the Qwen3 release measured its models.

Stage one ranks the whole corpus by the embedder's dot product; stage two reranks each query's
top `candidates` (100 in the release) with the reranker. Both are scored with the same metrics.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InvalidArgumentError, InvalidInputError
from ..jsonl import jsonl_values
from ..model_methods import EmbeddingMethods, RankingMethods
from ..progress import bar
from ..validation import check_positive_int
from .metrics import mean_metrics

SCORE_BLOCK_QUERIES = 256  # queries per similarity product, so memory stays queries x corpus / blocks


@dataclass(frozen=True)
class BeirDataset:
    corpus: dict[str, str]  # id -> "title text" (BEIR's join of the two fields)
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]  # query id -> document id -> grade


@dataclass
class EvalReport:
    queries: int
    documents: int
    stages: dict[str, dict[str, float]] = field(default_factory=dict)  # stage name -> metric -> value
    seconds: dict[str, float] = field(default_factory=dict)

    def table(self) -> str:
        names = list(next(iter(self.stages.values())))
        width = max(len(stage) for stage in self.stages)
        lines = [f"{'stage':<{width}}  " + "  ".join(f"{n:>10}" for n in names)]
        lines += [
            f"{stage:<{width}}  " + "  ".join(f"{values[n]:>10.4f}" for n in names)
            for stage, values in self.stages.items()
        ]
        return "\n".join(lines)

    def as_dict(self) -> dict[str, object]:
        return {"queries": self.queries, "documents": self.documents, "stages": self.stages, "seconds": self.seconds}


def load_beir(folder: str | Path, split: str = "test") -> BeirDataset:
    """Read `corpus.jsonl`, `queries.jsonl` and `qrels/{split}.tsv`; malformed lines are errors."""
    folder = Path(folder)
    corpus = {
        record["_id"]: f"{record.get('title', '')} {record['text']}".strip()
        for record in _jsonl(folder / "corpus.jsonl", ("_id", "text"))
    }
    queries = {record["_id"]: record["text"] for record in _jsonl(folder / "queries.jsonl", ("_id", "text"))}
    qrels: dict[str, dict[str, int]] = {}
    qrels_path = folder / "qrels" / f"{split}.tsv"
    if not qrels_path.is_file():
        raise InvalidArgumentError(f"{qrels_path} does not exist; a BEIR folder has qrels/{split}.tsv")
    with open(qrels_path, newline="", encoding="utf-8") as handle:
        for number, row in enumerate(csv.reader(handle, delimiter="\t"), start=1):
            if number == 1 and row and row[0] == "query-id":
                continue
            if len(row) != 3 or not row[2].lstrip("-").isdigit():
                raise InvalidInputError(f"{qrels_path}:{number}: expected 'query-id<TAB>corpus-id<TAB>score'")
            qrels.setdefault(row[0], {})[row[1]] = int(row[2])
    unknown = sorted({doc for judged in qrels.values() for doc in judged} - corpus.keys())[:3]
    if unknown:
        raise InvalidInputError(f"{qrels_path} judges documents missing from corpus.jsonl, e.g. {unknown}")
    return BeirDataset(corpus, queries, qrels)


def _jsonl(path: Path, required: tuple[str, ...]) -> Iterator[dict]:
    if not path.is_file():
        raise InvalidArgumentError(f"{path} does not exist; a BEIR folder has corpus.jsonl and queries.jsonl")
    with open(path, encoding="utf-8") as handle:
        for number, record in jsonl_values(handle, str(path)):
            if not isinstance(record, dict) or any(not isinstance(record.get(key), str) for key in required):
                raise InvalidInputError(f"{path}:{number}: needs string fields {', '.join(required)}")
            yield record


def evaluate(
    dataset: BeirDataset,
    embedder: EmbeddingMethods,
    reranker: RankingMethods | None,
    *,
    candidates: int = 100,
    limit: int | None = None,
    progress: bool = True,
) -> EvalReport:
    """nDCG@10, Recall@100 and MRR@10 for embedding-only retrieval and, with a reranker, for reranking
    the embedder's top `candidates` of each query.

    `limit` takes the first queries (in qrels order) that have a query text; the corpus stays whole.
    """
    check_positive_int(candidates, "candidates")
    query_ids = [q for q in dataset.qrels if q in dataset.queries]
    if limit is not None:
        query_ids = query_ids[: check_positive_int(limit, "limit")]
    if not query_ids:
        raise InvalidInputError("no query in qrels has a text in queries.jsonl; nothing to evaluate")
    doc_ids = list(dataset.corpus)
    report = EvalReport(queries=len(query_ids), documents=len(doc_ids))

    started = time.perf_counter()
    documents = embedder.embed_documents([dataset.corpus[d] for d in doc_ids])
    queries = embedder.embed_queries([dataset.queries[q] for q in query_ids])
    depth = min(candidates, len(doc_ids))
    retrieved: dict[str, list[str]] = {}
    for start in range(0, len(query_ids), SCORE_BLOCK_QUERIES):
        similarity = queries[start : start + SCORE_BLOCK_QUERIES] @ documents.T
        # Stable sort on the negated scores: ties keep corpus order, so runs are reproducible.
        order = np.argsort(-similarity, axis=1, kind="stable")[:, :depth]
        for offset, row in enumerate(order):
            retrieved[query_ids[start + offset]] = [doc_ids[i] for i in row]
    report.seconds["embedding"] = time.perf_counter() - started
    report.stages["embedding"] = mean_metrics(retrieved, dataset.qrels)

    if reranker is not None:
        started = time.perf_counter()
        reranked = {}
        for query_id in bar(progress, "Reranking", "query", iterable=query_ids):
            ranking = reranker.rerank(dataset.queries[query_id], [dataset.corpus[d] for d in retrieved[query_id]])
            reranked[query_id] = [retrieved[query_id][r.index] for r in ranking]
        report.seconds["rerank"] = time.perf_counter() - started
        report.stages[f"embedding top-{depth} + rerank"] = mean_metrics(reranked, dataset.qrels)
    return report
