"""Searching the chunks table: by vector (exact, or through an ANN index on large indexes), and with
hybrid recall also by full text (BM25), the two lists fused by reciprocal rank."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import LocalIndexError
from ..quantization import quantize_embeddings
from .precision import DEFAULT_RESCORE, QUANTIZED

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
BINARY_COLUMNS = ["id", "text", "rescore", "step", "metadata"]  # a binary index's `vector` is its bits
INT8_COLUMNS = ["id", "text", "vector", "step", "metadata"]
QUANTIZED_NORM_TOLERANCE = 1e-2  # int8 steps move a unit vector's norm by about 1e-4
# Rows an int8 scan reads at a time: 8 MiB of int8 (32 MiB as float32) at 1024 dims stays in cache.
SCAN_ROWS = 8192


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


def index_kinds(table: Any) -> set[str]:
    """ "vector" and/or "text": the kinds of index `table` has (one listing, read once per search)."""
    types = [index.index_type for index in table.list_indices()]
    kinds = {"vector" for t in types if t.upper().startswith("IVF")} | {"text" for t in types if t == "FTS"}
    return kinds | {"hash" for t in types if t.upper() == "BTREE"}


def ensure_indexes(table: Any, vector_index_from: int, precision: str = "float32") -> None:
    """The full-text index always (for --hybrid), and a B-tree over `text_hash` (chunks found again by
    content); the vector index once the table is large enough: IVF with 8-bit scalar quantization for float
    vectors, IVF over the bits by Hamming distance for binary. An int8 index has none (LanceDB indexes no int8
    vectors): it is scanned (see `scan_int8`)."""
    from lancedb.index import FTS, BTree, IvfFlat, IvfSq

    kinds = index_kinds(table)
    if "text" not in kinds:
        table.create_index("text", config=FTS())
    if "hash" not in kinds and "text_hash" in table.schema.names:
        table.create_index("text_hash", config=BTree())
    rows = table.count_rows()
    if rows >= vector_index_from and "vector" not in kinds and precision != "int8":
        partitions = max(1, round(math.sqrt(rows)))
        config = (
            IvfFlat(distance_type="hamming", num_partitions=partitions)
            if precision == "binary"
            else IvfSq(distance_type="dot", num_partitions=partitions)
        )
        table.create_index("vector", config=config)


def search_table(
    table: Any,
    query: NDArray[np.float32],
    top_n: int,
    text: str | None,
    damaged: Callable[[str], LocalIndexError],
    precision: str = "float32",
    rescore: int = DEFAULT_RESCORE,
) -> Found:
    """The best `top_n` chunks of `table` as it stands (one version); `damaged` makes the error for bad rows.

    By vector: ordered by our own dot product with the float32 `query` (a binary index's candidates,
    `rescore` x `top_n` of them by Hamming distance, with their int8 vectors), ties by chunk id.
    Hybrid: the vector list and the full-text list, each `top_n` long, fused by reciprocal rank.
    """
    kinds = index_kinds(table)
    exact = "vector" not in kinds
    dim = len(query)
    columns = {"binary": BINARY_COLUMNS, "int8": INT8_COLUMNS}.get(precision, COLUMNS)
    if precision == "int8":
        found_ids = scan_int8(table, query, top_n)
        rows = table.take_row_ids(found_ids).select(columns).to_arrow() if found_ids else _no_rows(table, columns)
    else:
        if precision == "binary":
            bits = quantize_embeddings(query[None, :], "ubinary")[0]  # packed as the store packs documents
            by_vector = table.search(bits, vector_column_name="vector").distance_type("hamming")
            by_vector = by_vector if exact else by_vector.nprobes(NPROBES)
            candidates = top_n * rescore
        else:
            by_vector = table.search(query, vector_column_name="vector").distance_type("dot")
            by_vector = by_vector if exact else by_vector.nprobes(NPROBES).refine_factor(REFINE_FACTOR)
            candidates = top_n
        rows = by_vector.select([*columns, "_distance"]).limit(candidates).to_arrow().select(columns)
    ranked = sorted(_hits(rows, query, damaged, precision, dim), key=lambda pair: (-pair[1].score, pair[0]))[:top_n]
    if text is not None:
        if "text" not in kinds:
            raise LocalIndexError(
                "this index has no full-text index yet (its first run did not finish); "
                "run qwen3-rag index again, or search without --hybrid"
            )
        by_text = table.search(text, query_type="fts", fts_columns="text").select([*columns, "_score"])
        found = _hits(by_text.limit(top_n).to_arrow().select(columns), query, damaged, precision, dim)
        ranked = reciprocal_rank_fusion([ranked, found])[:top_n]
    return Found([hit for _, hit in ranked], table.version, exact, text is not None)


def _no_rows(table: Any, columns: list[str]) -> Any:
    return table.schema.empty_table().select(columns)


def scan_int8(table: Any, query: NDArray[np.float32], top_n: int) -> list[int]:
    """The row ids of the `top_n` chunks of an int8 index whose vectors (int8 steps times their step) have the
    largest cosine with the float `query`, from one pass over the table, a block of rows at a time.

    The query is never quantized: this is the rescoring of sentence-transformers' recipe, applied to every
    chunk, so nothing is left to rescore. The caller orders the chunks (ties by chunk id).
    """
    best_ids: list[NDArray[np.uint64]] = []
    best_scores: list[NDArray[np.float32]] = []
    scan = table.search().select(["vector", "step"]).with_row_id(True).to_batches(SCAN_ROWS)
    for block in scan:
        if not block.num_rows:
            continue
        steps = np.asarray(block.column("vector").flatten(), dtype=np.int8).reshape(block.num_rows, len(query))
        scores = _int8_cosines(steps.astype(np.float32), query)
        keep = min(top_n, len(scores))
        chosen = np.argpartition(-scores, keep - 1)[:keep]
        best_ids.append(np.asarray(block.column("_rowid"), dtype=np.uint64)[chosen])
        best_scores.append(scores[chosen])
    if not best_ids:
        return []
    ids, scores = np.concatenate(best_ids), np.concatenate(best_scores)
    return [int(i) for i in ids[np.lexsort((ids, -scores))[:top_n]]]


def _int8_cosines(steps: NDArray[np.float32], query: NDArray[np.float32]) -> NDArray[np.float32]:
    """Each row's cosine with `query` as `cosine` computes it (the row's step cancels out), for ranking."""
    lengths = np.linalg.norm(steps, axis=1)
    return np.asarray((steps @ query) / np.where(lengths > 0, lengths, 1), dtype=np.float32)


def stored_vectors(rows: Any, dim: int, precision: str) -> NDArray[np.float32]:
    """The vectors of an Arrow table of chunk rows: float32 as stored, or a quantized index's int8 ones scaled
    back (a binary index keeps them in `rescore`, beside its bits)."""
    if precision in QUANTIZED:
        column = "rescore" if precision == "binary" else "vector"
        steps = np.asarray(rows.column(column).combine_chunks().flatten(), dtype=np.float32).reshape(-1, dim)
        return steps * np.asarray(rows.column("step").to_numpy(), dtype=np.float32)[:, None]
    return np.asarray(rows.column("vector").combine_chunks().flatten(), dtype=np.float32).reshape(-1, dim)


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
    rows: Any, query: NDArray[np.float32], damaged: Callable[[str], LocalIndexError], precision: str, dim: int
) -> list[tuple[str, Hit]]:
    vectors = stored_vectors(rows, dim, precision) if rows.num_rows else np.empty((0, dim), np.float32)
    tolerance = QUANTIZED_NORM_TOLERANCE if precision in QUANTIZED else UNIT_NORM_TOLERANCE
    places = rows.select(["id", "text", "metadata"]).to_pylist()  # vectors stay in NumPy: no Python lists
    return [
        (row["id"], _hit(row, vector, query, damaged, tolerance)) for row, vector in zip(places, vectors, strict=True)
    ]


def _hit(
    row: dict[str, Any],
    vector: NDArray[np.float32],
    query: NDArray[np.float32],
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
    return Hit(cosine(vector, norm, query), path, start, end, row["text"], document)


def cosine(vector: NDArray[np.float32], norm: float, query: NDArray[np.float32]) -> float:
    """The cosine of a stored vector (of length `norm`) and the query, within [-1, 1]. Both were unit vectors,
    but a quantized index's int8 steps leave its vector's length off 1 by ~1e-4 (a dot product of 1.00015 was
    shown as a similarity): divided by both lengths, then clipped for the last float rounding."""
    scale = norm * float(np.linalg.norm(query))
    return min(1.0, max(-1.0, float(vector @ query) / scale)) if scale > 0 else 0.0
