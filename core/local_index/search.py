"""Searching the chunks table: by vector (exact, or through an ANN index on large indexes), and with
hybrid recall also by full text (BM25), the two lists fused by reciprocal rank."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import LocalIndexError

# From this many chunks `index` builds an IVF-SQ vector index. LanceDB's exact scan costs about
# 4.6 ms per 1,000 chunks of 1024 dims on a 2-core CPU (230 ms here); the index answers in 20-50 ms
# up to 1M chunks with recall@10 of 0.975-1.0 on clustered vectors, and costs ~0.07 ms a chunk to
# build (bench/RESULTS.md). Below it every search is exact.
VECTOR_INDEX_FROM = 50_000
NPROBES = 20  # IVF partitions searched (of about sqrt(chunks))
REFINE_FACTOR = 10  # candidates re-scored on the full float32 vectors, per result asked for
UNIT_NORM_TOLERANCE = 1e-3  # stored vectors are L2-normalised: anything else was not written by qwen3-rag
RRF_K = 60  # reciprocal rank fusion's constant, as in Cormack et al. (2009) and LanceDB's RRFReranker
COLUMNS = ["id", "text", "vector", "metadata"]


@dataclass(frozen=True)
class Hit:
    score: float  # dot product of the query and chunk vectors (cosine: both are unit vectors)
    path: str
    start_line: int
    end_line: int
    text: str


@dataclass(frozen=True)
class Found:
    """Hits in retrieval order, and how they were found."""

    hits: list[Hit]
    version: int  # the committed version of the index they come from
    exact: bool  # False when an ANN index answered
    hybrid: bool


def index_kinds(table: Any) -> set[str]:
    """ "vector" and/or "text": the kinds of index `table` has (one listing, read once per search)."""
    types = [index.index_type for index in table.list_indices()]
    return {"vector" for t in types if t.upper().startswith("IVF")} | {"text" for t in types if t == "FTS"}


def ensure_indexes(table: Any, vector_index_from: int) -> None:
    """The full-text index always (for --hybrid); the vector index once the table is large enough."""
    from lancedb.index import FTS, IvfSq

    kinds = index_kinds(table)
    if "text" not in kinds:
        table.create_index("text", config=FTS())
    rows = table.count_rows()
    if rows >= vector_index_from and "vector" not in kinds:
        table.create_index("vector", config=IvfSq(distance_type="dot", num_partitions=max(1, round(math.sqrt(rows)))))


def search_table(
    table: Any, query: NDArray[np.float32], top_n: int, text: str | None, damaged: Callable[[str], LocalIndexError]
) -> Found:
    """The best `top_n` chunks of `table` as it stands (one version); `damaged` makes the error for bad rows.

    By vector: ordered by our own float32 dot product, ties by chunk id. Hybrid: the vector list
    and the full-text list, each `top_n` long, fused by reciprocal rank.
    """
    kinds = index_kinds(table)
    exact = "vector" not in kinds
    by_vector = table.search(query, vector_column_name="vector").distance_type("dot")
    if not exact:
        by_vector = by_vector.nprobes(NPROBES).refine_factor(REFINE_FACTOR)
    ranked = sorted(
        _hits(by_vector.select([*COLUMNS, "_distance"]).limit(top_n), query, damaged),
        key=lambda pair: (-pair[1].score, pair[0]),
    )
    if text is not None:
        if "text" not in kinds:
            raise LocalIndexError(
                "this index has no full-text index yet (its first run did not finish); "
                "run qwen3-rag index again, or search without --hybrid"
            )
        by_text = table.search(text, query_type="fts", fts_columns="text").select([*COLUMNS, "_score"])
        ranked = reciprocal_rank_fusion([ranked, _hits(by_text.limit(top_n), query, damaged)])[:top_n]
    return Found([hit for _, hit in ranked], table.version, exact, text is not None)


def reciprocal_rank_fusion(lists: list[list[tuple[str, Hit]]], k: int = RRF_K) -> list[tuple[str, Hit]]:
    """One list from several ranked lists of (id, hit): each id scores the sum of 1 / (k + its rank)."""
    fused: dict[str, float] = {}
    hits: dict[str, Hit] = {}
    for ranked in lists:
        for rank, (key, hit) in enumerate(ranked, start=1):
            fused[key] = fused.get(key, 0.0) + 1.0 / (k + rank)
            hits[key] = hit
    return [(key, hits[key]) for key in sorted(fused, key=lambda key: (-fused[key], key))]


def _hits(builder: Any, query: NDArray[np.float32], damaged: Callable[[str], LocalIndexError]) -> list[tuple[str, Hit]]:
    return [(row["id"], _hit(row, query, damaged)) for row in builder.to_arrow().select(COLUMNS).to_pylist()]


def _hit(row: dict[str, Any], query: NDArray[np.float32], damaged: Callable[[str], LocalIndexError]) -> Hit:
    vector = np.asarray(row["vector"], dtype=np.float32)
    if not np.isfinite(vector).all() or abs(float(np.linalg.norm(vector)) - 1.0) > UNIT_NORM_TOLERANCE:
        raise damaged(f"chunk {row['id']!r} has a vector that is not a unit vector")
    try:
        place = json.loads(row["metadata"])
        path, start, end = place["path"], place["start_line"], place["end_line"]
    except (ValueError, TypeError, KeyError):
        path = start = end = None
    if (
        not isinstance(row["text"], str)
        or not isinstance(path, str)
        or not all(isinstance(line, int) and line >= 1 for line in (start, end))
    ):
        raise damaged(f"chunk {row['id']!r} has a missing text, path or line")
    return Hit(float(vector @ query), path, start, end, row["text"])
