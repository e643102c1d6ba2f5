"""`Qwen3TextEmbedder` (queries, instruction applied) and `Qwen3DocumentEmbedder` (documents, as they are)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Unpack

from haystack import Document, component

from ...embedder import DEFAULT_EMBEDDING_MODEL, Embedder
from ...errors import InvalidInputError
from ...quantization import Precision, check_precision
from ...settings import EmbedderSettings
from ._component import CoreComponent, EmbedderComponentOptions, document_texts


class _EmbedderComponent(CoreComponent[Embedder]):
    settings_class = EmbedderSettings
    options = EmbedderComponentOptions


@component
class Qwen3TextEmbedder(_EmbedderComponent):
    """Embed a query with Qwen3-Embedding, task instruction applied; pair with `Qwen3DocumentEmbedder`.

    ```python
    pipeline.add_component("query_embedder", Qwen3TextEmbedder(instruction="question_answering"))
    ```

    Args: the settings of `qwen3_rag.Embedder` (or, with `base_url`, `RemoteEmbedder`) by name; `device` is a
    Haystack `ComponentDevice` (None: best available) and `token`/`api_key` Haystack `Secret`s.
    `precision` ("float32", "int8", "uint8", "binary", "ubinary") quantizes the vector as Haystack's
    Sentence Transformers embedders do (int8/uint8 ranges from the query itself: use binary/ubinary, or
    keep queries float and quantize documents only).
    """

    def __init__(
        self,
        model: str = DEFAULT_EMBEDDING_MODEL,
        *,
        precision: Precision = "float32",
        **settings: Unpack[EmbedderComponentOptions],
    ):
        # @component rebuilds the class, which breaks zero-argument super().
        CoreComponent.__init__(self, {"model": model, "precision": check_precision(precision)}, settings)

    @component.output_types(embedding=list[float])
    def run(self, text: str) -> dict[str, Any]:
        """Embed one query: `{"embedding": list[float]}` (ints with a quantized `precision`)."""
        return {"embedding": self.core.embed_queries([_query(text)], precision=self.precision)[0].tolist()}

    @component.output_types(embedding=list[float])
    async def run_async(self, text: str) -> dict[str, Any]:
        """`run` without blocking the event loop (an async HTTP client with `base_url=`)."""
        core = await self.loaded_async()
        return {"embedding": (await core.aembed_queries([_query(text)], precision=self.precision))[0].tolist()}


@component
class Qwen3DocumentEmbedder(_EmbedderComponent):
    """Embed Documents with Qwen3-Embedding, without the instruction; returns copies with `embedding` set.

    `meta_fields_to_embed` values are put before the content, joined by `embedding_separator`.
    `batch_size` caps documents per forward pass; within it, batches are cut by `batch_tokens`.
    The progress bar is on by default, as in Haystack's own document embedders. `precision` quantizes
    `Document.embedding` as Haystack's Sentence Transformers embedders do (a list of ints; int8/uint8 take
    their ranges from each run's documents).
    """

    defaults = {"progress_bar": True}  # as Haystack's own document embedders

    def __init__(
        self,
        model: str = DEFAULT_EMBEDDING_MODEL,
        *,
        precision: Precision = "float32",
        meta_fields_to_embed: list[str] | None = None,
        embedding_separator: str = "\n",
        **settings: Unpack[EmbedderComponentOptions],
    ):
        own = {
            "model": model,
            "precision": check_precision(precision),
            "meta_fields_to_embed": list(meta_fields_to_embed or []),
            "embedding_separator": embedding_separator,
        }
        CoreComponent.__init__(self, own, settings)  # @component rebuilds the class: no zero-argument super()

    @component.output_types(documents=list[Document])
    def run(self, documents: list[Document]) -> dict[str, Any]:
        """Embed the documents: `{"documents": copies with embedding set, in input order}`."""
        documents, texts = document_texts(documents, self.meta_fields_to_embed, self.embedding_separator)
        vectors = self.core.embed_documents(texts, precision=self.precision).tolist() if texts else []
        return {"documents": [replace(d, embedding=v) for d, v in zip(documents, vectors, strict=True)]}

    @component.output_types(documents=list[Document])
    async def run_async(self, documents: list[Document]) -> dict[str, Any]:
        """`run` without blocking the event loop (an async HTTP client with `base_url=`)."""
        documents, texts = document_texts(documents, self.meta_fields_to_embed, self.embedding_separator)
        core = await self.loaded_async()
        vectors = (await core.aembed_documents(texts, precision=self.precision)).tolist() if texts else []
        return {"documents": [replace(d, embedding=v) for d, v in zip(documents, vectors, strict=True)]}


def _query(text: object) -> str:
    if not isinstance(text, str):
        raise InvalidInputError(
            f"text must be a string, got {type(text).__name__}; embed Documents with Qwen3DocumentEmbedder"
        )
    return text
