"""Ranking metrics as trec_eval defines them (the definitions BEIR and MTEB report through pytrec_eval).

`qrels` maps document id -> graded relevance; grades <= 0 are not relevant. nDCG uses the grade
itself as the gain and log2(rank + 1) as the discount, with the ideal ranking built from the
judged documents.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence


def ndcg_at_k(ranking: Sequence[str], qrels: Mapping[str, int], k: int) -> float:
    ideal_gains = sorted((grade for grade in qrels.values() if grade > 0), reverse=True)[:k]
    ideal = sum(gain / math.log2(rank + 2) for rank, gain in enumerate(ideal_gains))
    if ideal == 0:
        return 0.0
    actual = sum(max(qrels.get(doc, 0), 0) / math.log2(rank + 2) for rank, doc in enumerate(ranking[:k]))
    return actual / ideal


def recall_at_k(ranking: Sequence[str], qrels: Mapping[str, int], k: int) -> float:
    relevant = {doc for doc, grade in qrels.items() if grade > 0}
    if not relevant:
        return 0.0
    return len(relevant.intersection(ranking[:k])) / len(relevant)


def mrr_at_k(ranking: Sequence[str], qrels: Mapping[str, int], k: int) -> float:
    for rank, doc in enumerate(ranking[:k]):
        if qrels.get(doc, 0) > 0:
            return 1.0 / (rank + 1)
    return 0.0


METRICS = {"nDCG@10": (ndcg_at_k, 10), "Recall@100": (recall_at_k, 100), "MRR@10": (mrr_at_k, 10)}


def mean_metrics(rankings: Mapping[str, Sequence[str]], qrels: Mapping[str, Mapping[str, int]]) -> dict[str, float]:
    """Each metric of METRICS averaged over the queries that have at least one relevant document."""
    judged = [q for q in rankings if any(grade > 0 for grade in qrels.get(q, {}).values())]
    if not judged:
        return {name: 0.0 for name in METRICS}
    return {
        name: sum(metric(rankings[q], qrels[q], k) for q in judged) / len(judged)
        for name, (metric, k) in METRICS.items()
    }
