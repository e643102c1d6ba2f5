"""Callable classes for `Dataset.map_batches`: one core model per actor, one column in, one out."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from ...errors import InvalidArgumentError, InvalidInputError
from ...model_factory import make_model
from ...quantization import Precision, check_precision
from ...reranker import sigmoid
from ...settings import EmbedderSettings, RerankerSettings

Batch = pa.Table | dict[str, np.ndarray]  # batch_format="pyarrow" (ours) or "numpy"


def _column(batch: Batch, name: str) -> list[Any]:
    names = batch.column_names if isinstance(batch, pa.Table) else list(batch)
    if name not in names:
        raise InvalidInputError(f"the dataset has no column {name!r}; its columns are {names}")
    return batch.column(name).to_pylist() if isinstance(batch, pa.Table) else batch[name].tolist()


def _with_columns(batch: Batch, columns: dict[str, np.ndarray]) -> Batch:
    """`batch` plus `columns`; 2-D arrays become fixed-size lists of their own type (float32 vectors, or
    int8 / uint8 quantized ones: what vector stores bulk-load)."""
    if not isinstance(batch, pa.Table):
        return {**batch, **columns}
    for name, values in columns.items():
        if values.ndim == 2:
            flat = pa.array(np.ascontiguousarray(values).ravel(), type=pa.from_numpy_dtype(values.dtype))
            column = pa.FixedSizeListArray.from_arrays(flat, values.shape[1])
        else:
            column = pa.array(values)
        batch = batch.append_column(name, column)
    return batch


class Qwen3EmbedBatch:
    """Adds `output_column` (vectors) embedding `text_column`: documents, or queries with the instruction.

    Args:
        text_column, output_column: column names.
        queries: embed as queries (instruction prepended) instead of documents.
        precision, ranges: as for `Embedder.embed_documents`; the column holds float32, int8 or uint8
            fixed-size lists. int8/uint8 need `ranges` (from `qwen3_rag.calibration_ranges`): ranges
            taken from each batch would differ between batches.
        **settings: `qwen3_rag.Embedder` settings (model, dim, instruction, device, dtype, ...), or
            `base_url=` (and `api_key=`) for a `RemoteEmbedder`: many CPU actors in front of one GPU server.
    """

    def __init__(
        self,
        text_column: str = "text",
        output_column: str = "embedding",
        queries: bool = False,
        precision: Precision = "float32",
        ranges: Any = None,
        **settings: Any,
    ):
        self.precision, self.ranges = check_batch_precision(precision, ranges)
        self.embedder = make_model(EmbedderSettings.from_mapping(settings))
        self.text_column, self.output_column = text_column, output_column
        self.embed = self.embedder.embed_queries if queries else self.embedder.embed_documents

    def __call__(self, batch: Batch) -> Batch:
        vectors = self.embed(_column(batch, self.text_column), precision=self.precision, ranges=self.ranges)
        return _with_columns(batch, {self.output_column: vectors})


def check_batch_precision(precision: object, ranges: Any) -> tuple[Precision, Any]:
    """A precision for batches embedded apart: int8/uint8 only with fixed `ranges`."""
    checked = check_precision(precision)
    if checked in ("int8", "uint8") and ranges is None:
        raise InvalidArgumentError(
            f"precision={checked!r} needs ranges= (qwen3_rag.calibration_ranges(vectors of a sample)): "
            "ranges taken from each batch would make vectors of different batches incomparable"
        )
    return checked, ranges


class Qwen3RerankBatch:
    """Adds `score_column` (probability) and `logit_column` (log-odds) for (query, document) rows.

    Args:
        query_column, document_column: input column names.
        score_column, logit_column: output column names; `logit_column=None` leaves log-odds out.
        **settings: `qwen3_rag.Reranker` settings (model, instruction, device, dtype, ...), or `base_url=`.
    """

    def __init__(
        self,
        query_column: str = "query",
        document_column: str = "document",
        score_column: str = "score",
        logit_column: str | None = "logit",
        **settings: Any,
    ):
        self.reranker = make_model(RerankerSettings.from_mapping(settings))
        self.query_column, self.document_column = query_column, document_column
        self.score_column, self.logit_column = score_column, logit_column

    def __call__(self, batch: Batch) -> Batch:
        logits = self.reranker.pair_logits(_column(batch, self.query_column), _column(batch, self.document_column))
        columns = {self.score_column: sigmoid(logits)}
        if self.logit_column is not None:
            columns[self.logit_column] = logits
        return _with_columns(batch, columns)
