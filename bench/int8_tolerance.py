"""How far the int8 mode is from fp32 on the 0.6B shape (random weights), on one synthetic retrieval set.

    make setup && .venv/bin/python bench/int8_tolerance.py --out out/int8

Embedding: the cosine of each int8 vector to its fp32 vector (documents and queries), and how many
of each query's fp32 top 10 documents the int8 vectors also rank in their top 10. Reranking: the
difference of probabilities and of log-odds, and the same top-10 agreement within each query's
candidates. Random weights make a harder case than trained ones for closeness in one respect (no
outlier structure to exploit) and an easier one in another (no outlier channels to clip); the
real-checkpoint tests hold the published examples' rankings where weights are cached.

Where the int8 mode runs attention in bfloat16 (a CPU with bfloat16 units), the same quantised model is
measured again with fp32 attention, so that each change is seen alone.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch
from report import cpu_flags, cpu_name, save
from workload import INSTRUCTION, texts, write_checkpoints

from qwen3_rag import Embedder, Reranker
from qwen3_rag.kernels.attention import sdpa_per_sequence


def top10_agreement(exact: np.ndarray, fast: np.ndarray) -> float:
    """Mean share of each row's top 10 (by `exact`) that `fast` also puts in its top 10."""
    k = min(10, exact.shape[1])
    shared = [len(set(np.argsort(-e)[:k]) & set(np.argsort(-f)[:k])) / k for e, f in zip(exact, fast, strict=True)]
    return float(np.mean(shared))


def variants(model):
    """The int8 mode as it loads here, then (where that runs attention in bfloat16) the same quantised model
    with fp32 attention: each named, in turn, while `model` (a loaded Embedder or Reranker) is set to it."""
    loaded = model.model
    yield f"int8 ({loaded.attention_path})"
    if loaded.attention_path.endswith("-bf16"):
        shipped = loaded.attend
        loaded.attend = sdpa_per_sequence
        try:
            yield "int8, fp32 attention"
        finally:
            loaded.attend = shipped


def embedding_tolerance(model: Path, documents: list[str], queries: list[str]) -> dict:
    exact = Embedder(str(model), device="cpu", dtype="float32", instruction=INSTRUCTION)
    docs, qs = exact.embed_documents(documents), exact.embed_queries(queries)
    del exact
    fast = Embedder(str(model), device="cpu", dtype="int8", instruction=INSTRUCTION)
    result = {}
    for name in variants(fast):
        docs8, qs8 = fast.embed_documents(documents), fast.embed_queries(queries)
        cosines = np.concatenate([(docs * docs8).sum(1), (qs * qs8).sum(1)])
        result[name] = {
            "texts": len(cosines),
            "cosine_min": float(cosines.min()),
            "cosine_mean": float(cosines.mean()),
            "top10_agreement": top10_agreement(qs @ docs.T, qs8 @ docs8.T),
        }
    return result


def reranker_tolerance(model: Path, queries: list[str], candidates: list[list[str]]) -> dict:
    def logits(reranker: Reranker) -> np.ndarray:
        return np.array([reranker.logits(q, c) for q, c in zip(queries, candidates, strict=True)])

    exact_model = Reranker(str(model), device="cpu", dtype="float32", instruction=INSTRUCTION)
    exact = logits(exact_model)
    del exact_model
    fast_model = Reranker(str(model), device="cpu", dtype="int8", instruction=INSTRUCTION)
    result = {}
    for name in variants(fast_model):
        fast = logits(fast_model)
        probability = 1 / (1 + np.exp(-exact)), 1 / (1 + np.exp(-fast))
        result[name] = {
            "pairs": exact.size,
            "probability_max_abs_diff": float(np.abs(probability[0] - probability[1]).max()),
            "log_odds_max_abs_diff": float(np.abs(exact - fast).max()),
            "log_odds_spread": float(exact.std()),
            "top10_agreement": top10_agreement(exact, fast),
        }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, default=120)
    parser.add_argument("--queries", type=int, default=12)
    parser.add_argument("--candidates", type=int, default=20)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    models = write_checkpoints(Path(tempfile.mkdtemp(prefix="qwen3-rag-int8-")), torch.float32, "cpu", None)
    documents = texts(args.documents, 20, 120, seed=11)
    queries = [" ".join(text.split()[:8]) + "?" for text in texts(args.queries, 8, 8, seed=12)]
    reranked = min(4, args.queries)  # the reranker scores the first few queries' candidates
    candidates = [texts(args.candidates, 20, 120, seed=13 + i) for i in range(reranked)]
    result = {
        "cpu": cpu_name(),
        "cpu_flags": cpu_flags(),
        "torch": torch.__version__,
        "embedding": embedding_tolerance(models["embedding"], documents, queries),
        "reranker": reranker_tolerance(models["reranker"], queries[:reranked], candidates),
    }
    embedding, reranker = result["embedding"], result["reranker"]
    names = list(embedding)
    e, r = embedding[names[0]], reranker[names[0]]

    def row(label: str, values: list[str]) -> str:
        return f"| {label} | " + " | ".join(values) + " |"

    measures = [  # (row label, results of the task, one variant's cell)
        (
            f"embedding: cosine to fp32, min / mean over {e['texts']} texts",
            embedding,
            lambda m: f"{m['cosine_min']:.4f} / {m['cosine_mean']:.4f}",
        ),
        (
            f"embedding: top-10 agreement ({args.queries} queries, {args.documents} documents)",
            embedding,
            lambda m: f"{m['top10_agreement'] * 100:.1f} %",
        ),
        (
            f"reranker: max abs difference of probabilities ({r['pairs']} pairs)",
            reranker,
            lambda m: f"{m['probability_max_abs_diff']:.2e}",
        ),
        (
            f"reranker: max abs difference of log-odds (their spread: std {r['log_odds_spread']:.2f})",
            reranker,
            lambda m: f"{m['log_odds_max_abs_diff']:.3f}",
        ),
        (
            f"reranker: top-10 agreement ({reranked} queries x {args.candidates} candidates)",
            reranker,
            lambda m: f"{m['top10_agreement'] * 100:.1f} %",
        ),
    ]
    lines = [row("against fp32 (0.6B shape)", names), row("---", ["---"] * len(names))]
    lines += [row(label, [cell(task[name]) for name in names]) for label, task, cell in measures]
    table = "\n".join(lines)
    print(f"CPU: {result['cpu']} ({' '.join(result['cpu_flags'])})\n{table}")
    save(args.out, result, table)


if __name__ == "__main__":
    main()
