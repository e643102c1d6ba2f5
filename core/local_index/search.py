"""Searching the chunks table: by vector (exact, or through an ANN index on large indexes), and with
hybrid recall also by full text (BM25), the two lists fused by reciprocal rank."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import LocalIndexError
from .advice import update_hint, vector_only_hint
from .layouts import FLOAT32, VectorLayout, ivf_partitions

# From this many chunks `index` builds an IVF-SQ vector index. LanceDB's exact scan costs about
# 4.6 ms per 1,000 chunks of 1024 dims on a 2-core CPU (230 ms here); the index answers in 20-50 ms
# up to 1M chunks with recall@10 of 0.975-1.0 on clustered vectors, and costs ~0.07 ms a chunk to
# build (bench/RESULTS.md). Below it every search is exact.
VECTOR_INDEX_FROM = 50_000
RRF_K = 60  # reciprocal rank fusion's constant, as in Cormack et al. (2009) and LanceDB's RRFReranker


@dataclass(frozen=True)
class Hit:
    score: float  # cosine similarity of the query and chunk vectors, in [-1, 1] (see `cosine`)
    path: str  # relative to the folder holding the index (see places.py), or a document's id
    start_line: int
    end_line: int
    text: str
    document: bool = False  # written by id (Ray's write_index), not found under a folder
    fused: float | None = None  # hybrid recall: the reciprocal rank fusion score, which orders hybrid hits


@dataclass(frozen=True)
class Found:
    """Hits in retrieval order, and how they were found."""

    hits: list[Hit]
    version: int  # the committed version of the index they come from
    exact: bool  # False when an ANN index answered
    hybrid: bool
    index_details: Mapping[str, Any] = field(default_factory=dict)  # the ANN index's, as LanceDB reports them


def index_kinds(table: Any, indexes: list[Any] | None = None) -> set[str]:
    """ "vector" and/or "text": the kinds of index `table` has (`indexes`: its listing, where already read)."""
    types = [index.index_type for index in (table.list_indices() if indexes is None else indexes)]
    kinds = {"vector" for t in types if t.upper().startswith("IVF")} | {"text" for t in types if t == "FTS"}
    return kinds | {"hash" for t in types if t.upper() == "BTREE"}


def vector_index_details(indexes: list[Any]) -> dict[str, Any]:
    """What LanceDB reports of the vector index among a table's `indexes` (e.g. RaBitQ's bits); {} if none."""
    found = (index for index in indexes if index.index_type.upper().startswith("IVF"))
    return dict(getattr(next(found, None), "index_details", None) or {})


def ensure_indexes(table: Any, vector_index_from: int, layout: VectorLayout) -> None:
    """The full-text index always (for --hybrid), and a B-tree over `text_hash` (chunks found again by
    content); the vector index once the table is large enough, as the index's `layout` wants it: IVF with
    8-bit scalar quantization for float vectors, IVF over the bits by Hamming distance for binary. An int8
    index has none (LanceDB indexes no int8 vectors): it is scanned."""
    from lancedb.index import FTS, BTree

    kinds = index_kinds(table)
    if "text" not in kinds:
        table.create_index("text", config=FTS())
    if "hash" not in kinds and "text_hash" in table.schema.names:
        table.create_index("text_hash", config=BTree())
    rows = table.count_rows()
    if rows >= vector_index_from and "vector" not in kinds:
        config = layout.vector_index(ivf_partitions(rows))
        if config is not None:
            table.create_index("vector", config=config)


def search_table(
    table: Any,
    query: NDArray[np.float32],
    top_n: int,
    text: str | None,
    damaged: Callable[[str], LocalIndexError],
    layout: VectorLayout = FLOAT32,
    rescore: int | None = None,
) -> Found:
    """The best `top_n` chunks of `table` as it stands (one version); `damaged` makes the error for bad rows.

    By vector: the candidates `layout` recalls (a binary or float16 index's `rescore` x `top_n` of them,
    None: its default), ordered by our own cosine of their vectors with the float32 `query`, ties by chunk id.
    Hybrid: the vector list and the full-text list, each `top_n` long, fused by reciprocal rank.
    """
    indexes = table.list_indices()  # read once per search
    kinds = index_kinds(table, indexes)
    exact = "vector" not in kinds
    dim = len(query)
    rows = layout.recall(table, query, top_n, exact, rescore or layout.default_rescore)
    ranked = sorted(_hits(rows, query, damaged, layout, dim), key=lambda pair: (-pair[1].score, pair[0]))[:top_n]
    if text is not None:
        if "text" not in kinds:
            raise LocalIndexError(
                "this index has no full-text index yet (its first run did not finish); "
                f"{update_hint()}, or {vector_only_hint()}"
            )
        columns = list(layout.columns)
        by_text = table.search(text, query_type="fts", fts_columns="text").select([*columns, "_score"])
        found = _hits(by_text.limit(top_n).to_arrow().select(columns), query, damaged, layout, dim)
        ranked = reciprocal_rank_fusion([ranked, found])[:top_n]
    details = vector_index_details(indexes)
    return Found([hit for _, hit in ranked], table.version, exact, text is not None, details)


def reciprocal_rank_fusion(lists: list[list[tuple[str, Hit]]], k: int = RRF_K) -> list[tuple[str, Hit]]:
    """One list from several ranked lists of (id, hit): each id scores the sum of 1 / (k + its rank), kept
    as the hit's `fused` score."""
    fused: dict[str, float] = {}
    hits: dict[str, Hit] = {}
    for ranked in lists:
        for rank, (key, hit) in enumerate(ranked, start=1):
            fused[key] = fused.get(key, 0.0) + 1.0 / (k + rank)
            hits[key] = hit
    return [(key, replace(hits[key], fused=fused[key])) for key in sorted(fused, key=lambda key: (-fused[key], key))]


def _hits(
    rows: Any, query: NDArray[np.float32], damaged: Callable[[str], LocalIndexError], layout: VectorLayout, dim: int
) -> list[tuple[str, Hit]]:
    vectors = layout.stored_vectors(rows, dim) if rows.num_rows else np.empty((0, dim), np.float32)
    places = rows.select(["id", "text", "metadata"]).to_pylist()  # vectors stay in NumPy: no Python lists
    query_norm = float(np.linalg.norm(query))  # once per search, not per hit
    return [
        (row["id"], _hit(row, vector, query, query_norm, damaged, layout.norm_tolerance))
        for row, vector in zip(places, vectors, strict=True)
    ]


def _hit(
    row: dict[str, Any],
    vector: NDArray[np.float32],
    query: NDArray[np.float32],
    query_norm: float,
    damaged: Callable[[str], LocalIndexError],
    tolerance: float,
) -> Hit:
    norm = float(np.linalg.norm(vector))
    if not np.isfinite(vector).all() or abs(norm - 1.0) > tolerance:
        raise damaged(f"chunk {row['id']!r} has a vector that is not a unit vector")
    try:
        place = json.loads(row["metadata"])
        path, start, end = place["path"], place["start_line"], place["end_line"]
        document = place.get("document") is True
    except (ValueError, TypeError, KeyError, AttributeError):
        path = start = end = None
    if (
        not isinstance(row["text"], str)
        or not isinstance(path, str)
        or not all(isinstance(line, int) and line >= 1 for line in (start, end))
    ):
        raise damaged(f"chunk {row['id']!r} has a missing text, path or line")
    return Hit(cosine(vector, norm, query, query_norm), path, start, end, row["text"], document)


def cosine(vector: NDArray[np.float32], norm: float, query: NDArray[np.float32], query_norm: float) -> float:
    """The cosine of a stored vector (of length `norm`) and the query (of length `query_norm`), within [-1, 1].
    Both were unit vectors, but a quantized index's int8 steps leave its vector's length off 1 by ~1e-4 (a dot
    product of 1.00015 was shown as a similarity): divided by both lengths, then clipped for float rounding."""
    scale = norm * query_norm
    return min(1.0, max(-1.0, float(vector @ query) / scale)) if scale > 0 else 0.0
