"""`Qwen3TextEmbedder` (queries, instruction applied) and `Qwen3DocumentEmbedder` (documents, as they are)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from haystack import Document, component
from haystack.utils import ComponentDevice, Secret

from ...embedder import DEFAULT_EMBEDDING_MODEL, Embedder
from ...errors import InvalidInputError
from ...quantization import Precision, check_precision
from ...validation import check_positive_int
from .._shared import EMBEDDER_SETTINGS
from ._component import HF_TOKEN, CoreComponent, document_texts


class _EmbedderComponent(CoreComponent[Embedder]):
    core_class = Embedder
    core_settings = tuple(name for name in EMBEDDER_SETTINGS if name != "device")


@component
class Qwen3TextEmbedder(_EmbedderComponent):
    """Embed a query with Qwen3-Embedding, task instruction applied; pair with `Qwen3DocumentEmbedder`.

    ```python
    pipeline.add_component("query_embedder", Qwen3TextEmbedder(instruction="question_answering"))
    ```

    Args: see `qwen3_rag.Embedder`; `device` is a Haystack `ComponentDevice` (None: best available).
    `precision` ("float32", "int8", "uint8", "binary", "ubinary") quantizes the vector as Haystack's
    Sentence Transformers embedders do (int8/uint8 ranges from the query itself: use binary/ubinary, or
    keep queries float and quantize documents only).
    """

    def __init__(
        self,
        model: str = DEFAULT_EMBEDDING_MODEL,
        device: ComponentDevice | None = None,
        dtype: str | None = None,
        dim: int | None = None,
        instruction: str | None = None,
        max_length: int = 8192,
        batch_tokens: int | None = None,
        revision: str | None = None,
        allow_pickle: bool = False,
        token: Secret | None = HF_TOKEN,
        local_files_only: bool = False,
        base_url: str | None = None,
        api_key: Secret | None = None,
        precision: Precision = "float32",
    ):
        # @component rebuilds the class, which breaks zero-argument super().
        CoreComponent.__init__(
            self,
            model=model,
            device=device,
            dtype=dtype,
            dim=dim,
            instruction=instruction,
            max_length=max_length,
            batch_tokens=batch_tokens,
            revision=revision,
            allow_pickle=allow_pickle,
            token=token,
            local_files_only=local_files_only,
            base_url=base_url,
            api_key=api_key,
            precision=check_precision(precision),
        )

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

    def __init__(
        self,
        model: str = DEFAULT_EMBEDDING_MODEL,
        device: ComponentDevice | None = None,
        dtype: str | None = None,
        dim: int | None = None,
        instruction: str | None = None,
        symmetric: bool | None = None,
        max_length: int = 8192,
        batch_tokens: int | None = None,
        batch_size: int | None = None,
        revision: str | None = None,
        progress_bar: bool = True,
        meta_fields_to_embed: list[str] | None = None,
        embedding_separator: str = "\n",
        allow_pickle: bool = False,
        token: Secret | None = HF_TOKEN,
        local_files_only: bool = False,
        base_url: str | None = None,
        api_key: Secret | None = None,
        precision: Precision = "float32",
    ):
        if batch_size is not None:
            check_positive_int(batch_size, "batch_size")
        # @component rebuilds the class, which breaks zero-argument super().
        CoreComponent.__init__(
            self,
            model=model,
            device=device,
            dtype=dtype,
            dim=dim,
            instruction=instruction,
            symmetric=symmetric,
            max_length=max_length,
            batch_tokens=batch_tokens,
            batch_size=batch_size,
            revision=revision,
            progress_bar=progress_bar,
            meta_fields_to_embed=list(meta_fields_to_embed or []),
            embedding_separator=embedding_separator,
            allow_pickle=allow_pickle,
            token=token,
            local_files_only=local_files_only,
            base_url=base_url,
            api_key=api_key,
            precision=check_precision(precision),
        )

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
