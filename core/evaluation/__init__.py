"""Retrieval metrics and BEIR-format evaluation of any embedder and reranker, local or served.

May import: `model_methods` and the core's plain modules (errors, validation, jsonl). Never `kernels/`.
"""

from .beir import BeirDataset, EvalReport, evaluate, load_beir
from .metrics import METRICS, mean_metrics, mrr_at_k, ndcg_at_k, recall_at_k

__all__ = [
    "METRICS",
    "BeirDataset",
    "EvalReport",
    "evaluate",
    "load_beir",
    "mean_metrics",
    "mrr_at_k",
    "ndcg_at_k",
    "recall_at_k",
]
