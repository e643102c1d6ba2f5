"""One `VectorLayout` per index precision: how an index stores a chunk's vector, and how a search recalls
chunks and reads their vectors back. An index's layout is chosen once, when it opens or is created
(`layout_of`); what differs between precisions is asked of the layout, never branched on elsewhere."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from ..errors import InvalidArgumentError
from ..quantization import output_width, quantize_embeddings, scaled_int8
from .precision import DEFAULT_RESCORE, FLOAT16_RESCORE, INDEX_PRECISIONS, recorded_precision

if TYPE_CHECKING:  # imported where used: the search command imports this module beside torch, and pyarrow
    # (~35 ms) is needed only where LanceDB is (its helper process)
    import pyarrow as pa

NPROBES = 20  # IVF partitions searched (of about sqrt(chunks))
REFINE_FACTOR = 10  # candidates re-scored on the full float32 vectors, per result asked for
# A float16 index's RaBitQ codes, bits a dimension, and the share of its IVF partitions a search probes (at
# least NPROBES); it re-ranks FLOAT16_RESCORE x top_n candidates. At 10M rows 1 bit fits 23.4 GB and 1.6-1.7
# GiB of search memory, at recall@10 0.975 (uneven corpus) and 0.902 (tidy, bound by the 1-bit estimate);
# 4 bits take 31.2 GB and a 5 GiB index cache for 0.950-0.996 (bench/RESULTS.md, issue 36).
RQ_BITS = 1
RQ_PROBE_SHARE = 0.1
UNIT_NORM_TOLERANCE = 1e-3  # stored vectors are L2-normalised: anything else was not written by qwen3-rag
QUANTIZED_NORM_TOLERANCE = 1e-2  # int8 steps move a unit vector's norm by about 1e-4
# Rows an int8 scan reads at a time: 8 MiB of int8 (32 MiB as float32) at 1024 dims stays in cache.
SCAN_ROWS = 8192


class VectorLayout(ABC):
    """The vector columns of one index precision, and everything that reads or writes them."""

    precision: ClassVar[str]  # as `--precision` names it and the settings record it
    columns: ClassVar[tuple[str, ...]]  # what a search reads of each chunk row
    norm_tolerance: ClassVar[float]  # how far a stored vector's length may be off 1 (else: not ours)
    # Candidates recalled per result asked for, then rescored on the stored vectors (a search's `rescore`
    # when not given); None: this layout takes no `rescore`.
    default_rescore: ClassVar[int | None] = None

    def __repr__(self) -> str:
        return f"<{self.precision} vector layout>"

    @abstractmethod
    def fields(self, dim: int) -> list[pa.Field]:
        """The chunks table's vector columns, in table order."""

    def encode(self, floats: NDArray[np.float32]) -> pa.Table:
        """Unit vectors (n, dim) as this layout stores them: one row each, the columns of `fields`."""
        import pyarrow as pa

        columns = self._columns(floats)
        schema = pa.schema(self.fields(floats.shape[1]))
        arrays = [_fixed_size(columns[n]) if columns[n].ndim == 2 else pa.array(columns[n]) for n in schema.names]
        return pa.table(arrays, schema=schema)

    @abstractmethod
    def _columns(self, floats: NDArray[np.float32]) -> dict[str, NDArray[Any]]:
        """Each stored column of `floats`, by name."""

    @abstractmethod
    def stored_vectors(self, rows: Any, dim: int) -> NDArray[np.float32]:
        """The float vectors of an Arrow table of chunk rows: `encode` undone (as far as it can be)."""

    @abstractmethod
    def recall(self, table: Any, query: NDArray[np.float32], top_n: int, exact: bool, rescore: int | None) -> Any:
        """The candidate rows (`columns`) of a vector search of LanceDB `table` for `top_n` results; `exact`
        when the table has no ANN index. The caller orders them by their cosine with `query`."""

    def index_query(self, query: NDArray[np.float32]) -> tuple[Any, str]:
        """`query` as the `vector` column holds vectors, and the distance LanceDB ranks them by."""
        return query, "dot"

    def vector_index(self, partitions: int) -> Any | None:
        """The config of LanceDB's ANN index over `vector`, in `partitions` partitions; None: none is built."""
        return None

    def settings(self) -> dict[str, str]:
        """What an index of this layout records of its precision (see `layout_of`)."""
        return {"precision": self.precision}

    def refuse_rescore(self, rescore: int | None, name: str) -> None:
        """Only a binary or float16 index rescores: elsewhere `rescore` (the option called `name`) would change
        nothing, so it is refused rather than silently ignored."""
        if rescore is not None and self.default_rescore is None:
            raise InvalidArgumentError(
                f"{name} applies to a binary or float16 index; this one stores {self.precision} vectors"
            )

    def summary(self, rescore: int | None, exact: bool, index_details: Mapping[str, Any] | None = None) -> str:
        """How search recalled, after "embedding exact" (or "hybrid approximate (ANN)"): the vectors it read,
        and the ANN index's settings where they are the layout's own (`index_details`: what LanceDB reports
        of the index that answered)."""
        return f" over {self.precision} vectors"


class FloatLayout(VectorLayout):
    """`vector`: the float32 unit vectors, as `langchain_lancedb.LanceDB` reads them; 4 bytes a dimension."""

    precision = "float32"
    columns = ("id", "text", "vector", "metadata")
    norm_tolerance = UNIT_NORM_TOLERANCE

    def fields(self, dim: int) -> list[pa.Field]:
        import pyarrow as pa

        return [pa.field("vector", pa.list_(pa.float32(), dim), nullable=False)]

    def _columns(self, floats: NDArray[np.float32]) -> dict[str, NDArray[Any]]:
        return {"vector": floats}

    def stored_vectors(self, rows: Any, dim: int) -> NDArray[np.float32]:
        return _floats(rows, "vector", dim)

    def recall(self, table: Any, query: NDArray[np.float32], top_n: int, exact: bool, rescore: int | None) -> Any:
        by_vector = table.search(query, vector_column_name="vector").distance_type("dot")
        refine = rescore or REFINE_FACTOR  # a float32 index takes no rescore: its own fixed refining
        by_vector = by_vector if exact else by_vector.nprobes(self.probes(table)).refine_factor(refine)
        return _nearest(by_vector, self.columns, top_n)

    def probes(self, table: Any) -> int:
        """The IVF partitions a search of LanceDB `table` probes."""
        return NPROBES

    def vector_index(self, partitions: int) -> Any | None:
        from lancedb.index import IvfSq

        return IvfSq(distance_type="dot", num_partitions=partitions)

    def settings(self) -> dict[str, str]:
        return {}  # as indexes did before there was a choice

    def summary(self, rescore: int | None, exact: bool, index_details: Mapping[str, Any] | None = None) -> str:
        return ""


class Float16Layout(FloatLayout):
    """`vector`: the unit vectors in float16, 2 bytes a dimension. From `VECTOR_INDEX_FROM` chunks LanceDB's
    IVF_RQ index recalls them: RaBitQ codes of `RQ_BITS` bits a dimension, which estimate each dot product
    with the float query, and the best `rescore` x top_n candidates (`FLOAT16_RESCORE` unless asked)
    re-ranked on the float16 vectors. An index built with other bits is searched the same way."""

    precision = "float16"  # float16 rounds each value by 2**-11 of itself at most: the unit-norm tolerance holds
    settings = VectorLayout.settings  # records its precision, where a float32 index records none
    default_rescore = FLOAT16_RESCORE

    def fields(self, dim: int) -> list[pa.Field]:
        import pyarrow as pa

        return [pa.field("vector", pa.list_(pa.float16(), dim), nullable=False)]

    def _columns(self, floats: NDArray[np.float32]) -> dict[str, NDArray[Any]]:
        return {"vector": floats.astype(np.float16)}

    def probes(self, table: Any) -> int:
        return rq_probes(table.count_rows())

    def vector_index(self, partitions: int) -> Any | None:
        from lancedb.index import IvfRq

        return IvfRq(distance_type="dot", num_partitions=partitions, num_bits=RQ_BITS)

    def summary(self, rescore: int | None, exact: bool, index_details: Mapping[str, Any] | None = None) -> str:
        if exact:
            return " over float16 vectors"
        bits = (index_details or {}).get("compression", {}).get("num_bits")  # 4 in indexes built before 1 bit
        codes = "RaBitQ" if bits is None else f"RaBitQ {bits} bit{'s' if bits != 1 else ''}"
        refined = rescore or self.default_rescore
        return f" over float16 vectors ({codes}, {RQ_PROBE_SHARE:.0%} of partitions, rescored x{refined})"


class Int8Layout(VectorLayout):
    """`vector`: each vector in int8 steps of its own size, `step` (1,028 bytes a chunk at 1024 dims). LanceDB
    indexes no int8 vectors, so a search scans them all with the float query (`scan_int8`)."""

    precision = "int8"
    columns = ("id", "text", "vector", "step", "metadata")
    norm_tolerance = QUANTIZED_NORM_TOLERANCE
    steps_column: ClassVar[str] = "vector"  # the column of int8 steps

    def fields(self, dim: int) -> list[pa.Field]:
        import pyarrow as pa

        return [pa.field("vector", pa.list_(pa.int8(), dim), nullable=False), _step_field()]

    def _columns(self, floats: NDArray[np.float32]) -> dict[str, NDArray[Any]]:
        steps, step = scaled_int8(floats)
        return {"vector": steps, "step": step}

    def stored_vectors(self, rows: Any, dim: int) -> NDArray[np.float32]:
        steps = _floats(rows, self.steps_column, dim)
        return steps * np.asarray(rows.column("step").to_numpy(), dtype=np.float32)[:, None]

    def recall(self, table: Any, query: NDArray[np.float32], top_n: int, exact: bool, rescore: int | None) -> Any:
        found_ids = scan_int8(table, query, top_n)
        if not found_ids:
            return table.schema.empty_table().select(list(self.columns))
        return table.take_row_ids(found_ids).select(list(self.columns)).to_arrow()


class BinaryLayout(Int8Layout):
    """`vector`: the sign bits, packed, for recall by Hamming distance; beside them the int8 layout's steps, in
    `rescore` and `step`, to rescore the candidates against the float query (1,156 bytes a chunk at 1024 dims)."""

    precision = "binary"
    columns = ("id", "text", "rescore", "step", "metadata")  # the bits only recall
    default_rescore = DEFAULT_RESCORE
    steps_column = "rescore"

    def fields(self, dim: int) -> list[pa.Field]:
        import pyarrow as pa

        bits = pa.field("vector", pa.list_(pa.uint8(), output_width("binary", dim)), nullable=False)
        return [bits, pa.field("rescore", pa.list_(pa.int8(), dim), nullable=False), _step_field()]

    def _columns(self, floats: NDArray[np.float32]) -> dict[str, NDArray[Any]]:
        steps, step = scaled_int8(floats)
        return {"vector": quantize_embeddings(floats, "ubinary"), "rescore": steps, "step": step}

    def recall(self, table: Any, query: NDArray[np.float32], top_n: int, exact: bool, rescore: int | None) -> Any:
        bits, distance = self.index_query(query)
        by_vector = table.search(bits, vector_column_name="vector").distance_type(distance)
        by_vector = by_vector if exact else by_vector.nprobes(NPROBES)
        return _nearest(by_vector, self.columns, top_n * (rescore or DEFAULT_RESCORE))

    def index_query(self, query: NDArray[np.float32]) -> tuple[Any, str]:
        return quantize_embeddings(query[None, :], "ubinary")[0], "hamming"  # packed as documents are

    def vector_index(self, partitions: int) -> Any | None:
        from lancedb.index import IvfFlat

        return IvfFlat(distance_type="hamming", num_partitions=partitions)

    def summary(self, rescore: int | None, exact: bool, index_details: Mapping[str, Any] | None = None) -> str:
        return f" over binary vectors, rescored x{rescore or self.default_rescore}"


FLOAT32 = FloatLayout()
# In the order of INDEX_PRECISIONS, the command line's choices (kept in precision.py, free of NumPy).
LAYOUTS: dict[str, VectorLayout] = {
    layout.precision: layout for layout in (FLOAT32, Float16Layout(), Int8Layout(), BinaryLayout())
}


def ivf_partitions(rows: int) -> int:
    """The IVF partitions of a vector index over `rows` chunks: about sqrt(rows), LanceDB's own advice."""
    return max(1, round(math.sqrt(rows)))


def rq_probes(rows: int) -> int:
    """The partitions a search of a float16 index of about `rows` chunks probes: `RQ_PROBE_SHARE` of them."""
    return max(NPROBES, math.ceil(ivf_partitions(rows) * RQ_PROBE_SHARE))


def find_layout(precision: object) -> VectorLayout | None:
    """The layout of `precision`; None when it names none (a value read from a file may be anything)."""
    return LAYOUTS.get(precision) if isinstance(precision, str) else None


def layout_named(precision: object) -> VectorLayout:
    """The layout of `precision`, which a caller asked for: anything else is refused, naming the choices."""
    layout = find_layout(precision)
    if layout is None:
        choices = f"{', '.join(INDEX_PRECISIONS[:-1])} or {INDEX_PRECISIONS[-1]}"
        raise InvalidArgumentError(f"precision={precision!r}: an index stores {choices} vectors")
    return layout


def layout_of(settings: Mapping[str, Any]) -> VectorLayout:
    """The layout an index's recorded settings name (float32 indexes record none: they predate the choice)."""
    return layout_named(recorded_precision(settings))


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
    """Each row's cosine with `query` as `search.cosine` computes it (the row's step cancels out), for ranking."""
    lengths = np.linalg.norm(steps, axis=1)
    return np.asarray((steps @ query) / np.where(lengths > 0, lengths, 1), dtype=np.float32)


def _nearest(by_vector: Any, columns: tuple[str, ...], limit: int) -> Any:
    return by_vector.select([*columns, "_distance"]).limit(limit).to_arrow().select(list(columns))


def _floats(rows: Any, column: str, dim: int) -> NDArray[np.float32]:
    return np.asarray(rows.column(column).combine_chunks().flatten(), dtype=np.float32).reshape(-1, dim)


def _step_field() -> pa.Field:
    import pyarrow as pa

    return pa.field("step", pa.float32(), nullable=False)


def _fixed_size(rows: NDArray[Any]) -> pa.FixedSizeListArray:
    import pyarrow as pa

    return pa.FixedSizeListArray.from_arrays(pa.array(np.ascontiguousarray(rows).reshape(-1)), rows.shape[1])
