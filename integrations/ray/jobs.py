"""Dataset-level entry points: settings checked on the driver, work fanned out by Ray Data."""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import ray.data
from numpy.typing import NDArray

from ...errors import InvalidArgumentError
from ...local_index import IndexStore, index_settings
from ...local_index.builder import DEFAULT_CHUNKING
from ...local_index.documents import add_documents
from ...local_index.own_models import ModelChoice, remember_choices
from ...local_index.search import VECTOR_INDEX_FROM
from ...settings import EmbedderSettings, RerankerSettings
from ...validation import check_positive_int
from ...vector_settings import VectorSettings
from .batches import Qwen3EmbedBatch, Qwen3RerankBatch, check_batch_precision


def _actor_options(
    batch_size: int, concurrency: int | tuple[int, int], num_gpus: float | None, num_cpus: float | None
) -> dict[str, Any]:
    check_positive_int(batch_size, "batch_size")
    _warn_if_actors_take_every_cpu(concurrency, num_cpus, num_gpus)
    # Ray 2.51 deprecated map_batches(concurrency=...) for an explicit actor pool.
    pool = (
        ray.data.ActorPoolStrategy(min_size=concurrency[0], max_size=concurrency[1])
        if isinstance(concurrency, tuple)
        else ray.data.ActorPoolStrategy(size=concurrency)
    )
    return {
        "batch_size": batch_size,
        "batch_format": "pyarrow",
        "compute": pool,
        "num_gpus": num_gpus,
        "num_cpus": num_cpus,
    }


def _warn_if_actors_take_every_cpu(
    concurrency: int | tuple[int, int], num_cpus: float | None, num_gpus: float | None
) -> None:
    """Actors that reserve every CPU leave none for the read and write tasks: the job then waits forever."""
    if num_gpus or not ray.is_initialized():
        return
    actors = concurrency[0] if isinstance(concurrency, tuple) else concurrency
    reserved = actors * (1.0 if num_cpus is None else num_cpus)
    available = ray.cluster_resources().get("CPU", 0.0)
    if reserved >= available:
        warnings.warn(
            f"concurrency={concurrency} actors x num_cpus={num_cpus or 1} reserve {reserved:g} of the "
            f"cluster's {available:g} CPUs, leaving none for reading and writing: unless the cluster "
            "grows, the job will stall. Use fewer actors or a smaller num_cpus (e.g. 0.5)",
            stacklevel=3,
        )


def embed_dataset(
    dataset: ray.data.Dataset,
    *,
    text_column: str = "text",
    output_column: str = "embedding",
    queries: bool = False,
    batch_size: int = 256,
    concurrency: int | tuple[int, int] = 1,
    num_gpus: float | None = None,
    num_cpus: float | None = None,
    **settings: Any,
) -> ray.data.Dataset:
    """`dataset` with `output_column` added by `concurrency` actors (lazy: nothing runs until consumed).

    `settings` are `qwen3_rag.Embedder` settings; they are checked here, on the driver, before any
    actor starts. `batch_size` rows go to an actor at a time; the core then batches by tokens.
    `precision` and `ranges` quantize the vectors (see `Qwen3EmbedBatch`): the column is then a
    fixed-size list of int8 or uint8.
    """
    check_batch_precision(settings.get("precision", "float32"), settings.get("ranges"))
    EmbedderSettings.from_mapping({k: v for k, v in settings.items() if k not in QUANTIZATION})
    return dataset.map_batches(
        Qwen3EmbedBatch,
        fn_constructor_kwargs={
            "text_column": text_column,
            "output_column": output_column,
            "queries": queries,
            **settings,
        },
        **_actor_options(batch_size, concurrency, num_gpus, num_cpus),
    )


def rerank_dataset(
    dataset: ray.data.Dataset,
    *,
    query_column: str = "query",
    document_column: str = "document",
    score_column: str = "score",
    logit_column: str | None = "logit",
    batch_size: int = 256,
    concurrency: int | tuple[int, int] = 1,
    num_gpus: float | None = None,
    num_cpus: float | None = None,
    **settings: Any,
) -> ray.data.Dataset:
    """`dataset` with reranker scores for its (query, document) rows; `settings` as for `qwen3_rag.Reranker`."""
    RerankerSettings.from_mapping(settings)
    return dataset.map_batches(
        Qwen3RerankBatch,
        fn_constructor_kwargs={
            "query_column": query_column,
            "document_column": document_column,
            "score_column": score_column,
            "logit_column": logit_column,
            **settings,
        },
        **_actor_options(batch_size, concurrency, num_gpus, num_cpus),
    )


@dataclass(frozen=True)
class WriteSummary:
    rows: int | None  # None when the output is not on a local file system
    seconds: float
    path: str

    @property
    def rows_per_second(self) -> float | None:
        return None if self.rows is None else self.rows / self.seconds

    def __str__(self) -> str:
        if self.rows is None:
            return f"wrote embeddings to {self.path} in {self.seconds:.1f} s"
        return (
            f"wrote {self.rows} embeddings to {self.path} in {self.seconds:.1f} s ({self.rows_per_second:.1f} rows/s)"
        )


def write_embeddings(
    source: ray.data.Dataset | str,
    output_path: str,
    *,
    id_column: str = "id",
    text_column: str = "text",
    output_column: str = "embedding",
    **options: Any,
) -> WriteSummary:
    """Embed `source` and write Parquet files of (`id_column`, `output_column`) to `output_path`, streaming.

    `source` is a Dataset, or a path Ray can read: `.jsonl` / `.json` files or `.parquet` files (or
    a folder of them). Rows flow from readers through the actors to the writers; nothing is
    collected on the driver. `options` are those of `embed_dataset`.
    """
    dataset = _read(source) if isinstance(source, str) else source
    _check_columns(dataset, {id_column, text_column})
    local = Path(output_path)
    earlier = set(local.glob("*.parquet"))  # Ray appends to a folder: count only this run's files
    started = time.perf_counter()
    embedded = embed_dataset(dataset, text_column=text_column, output_column=output_column, **options)
    embedded.select_columns([id_column, output_column]).write_parquet(output_path)
    seconds = time.perf_counter() - started
    written = set(local.glob("*.parquet")) - earlier
    rows = sum(pq.read_metadata(f).num_rows for f in written) if local.is_dir() else None
    return WriteSummary(rows, seconds, output_path)


def write_index(
    source: ray.data.Dataset | str,
    index_path: str,
    *,
    id_column: str = "id",
    text_column: str = "text",
    reranker_model: str | None = None,
    rebuild: bool = False,
    **options: Any,
) -> WriteSummary:
    """Embed `source` on the cluster and write it into a folder index that `qwen3-rag search` reads.

    Each row becomes one entry named by its `id_column` value (an id seen again replaces its entry).
    The index records what the embedding model is; the models named here (a local embedder, and
    `reranker_model` if given) are kept for this account, as `qwen3-rag index` keeps them, so
    `qwen3-rag search "..." --index index_path` needs no other flag.
    Vectors stream from the actors to the driver, which alone writes the index, one commit per
    block. `options` are those of `embed_dataset`, except that `precision` is the index's ("float32", "float16",
    "int8" or "binary", as `qwen3-rag index --precision`): the actors send float vectors, the index stores them.
    """
    dataset = _read(source) if isinstance(source, str) else source
    _check_columns(dataset, {id_column, text_column})
    precision = options.pop("precision", "float32")
    if "ranges" in options:
        raise InvalidArgumentError("write_index takes no ranges=: a binary index scales each vector by itself")
    settings = {k: v for k, v in options.items() if k not in RAY_OPTIONS | QUANTIZATION}
    checked = EmbedderSettings.from_mapping(settings)
    # Named from the settings (a checkpoint's config and tokenizer, or what a server reports): the driver
    # never loads the weights, which only the actors need.
    vectors = VectorSettings.from_settings(checked)
    # Kept as `qwen3-rag index` keeps them, so that search and later index runs need no model named.
    choices = {} if checked.served else {"embedding": ModelChoice.named(checked.checkpoint, checked.revision)}
    if reranker_model is not None:
        choices["reranker"] = ModelChoice.named(reranker_model, None)
    started = time.perf_counter()
    embedded = embed_dataset(
        dataset.select_columns([id_column, text_column]), text_column=text_column, output_column="embedding", **options
    )
    with IndexStore.create_or_open(
        index_path,
        index_settings(vectors, **DEFAULT_CHUNKING, precision=precision),
        rebuild=rebuild,
    ) as store:
        remember_choices(store.home, choices)
        rows = add_documents(
            store,
            (
                (
                    batch.column(id_column).to_pylist(),
                    batch.column(text_column).to_pylist(),
                    _vectors(batch.column("embedding")),
                )
                for batch in embedded.iter_batches(batch_format="pyarrow")
            ),
        )
        store.optimize(VECTOR_INDEX_FROM)
    return WriteSummary(rows, time.perf_counter() - started, index_path)


RAY_OPTIONS = frozenset({"queries", "batch_size", "concurrency", "num_gpus", "num_cpus"})
QUANTIZATION = frozenset({"precision", "ranges"})  # how Qwen3EmbedBatch writes vectors, not Embedder settings


def _vectors(column: Any) -> NDArray[np.float32]:
    flat = column.combine_chunks()
    return np.asarray(flat.flatten(), dtype=np.float32).reshape(len(flat), flat.type.list_size)


def _check_columns(dataset: ray.data.Dataset, needed: set[str]) -> None:
    names = dataset.schema().names
    missing = needed - set(names)
    if missing:
        raise InvalidArgumentError(
            f"the dataset lacks column(s) {sorted(missing)}; it has {names}"
            " (choose others with id_column= / text_column=)"
        )


def _read(path: str) -> ray.data.Dataset:
    if "://" not in path and not Path(path).exists():  # remote URIs are Ray's to resolve
        raise InvalidArgumentError(f"source={path!r} does not exist")
    suffixes = {suffix for file in _files(path) for suffix in file.suffixes}
    if ".parquet" in suffixes:
        return ray.data.read_parquet(path)
    if suffixes & {".jsonl", ".json", ".ndjson"}:
        return ray.data.read_json(path, lines=True, file_extensions=["jsonl", "json", "ndjson"])
    raise InvalidArgumentError(f"source={path!r}: expected .jsonl/.json or .parquet files, or a Dataset")


def _files(path: str) -> list[Path]:
    local = Path(path)
    if local.is_dir():
        return [p for p in local.rglob("*") if p.is_file()]
    return [local]
