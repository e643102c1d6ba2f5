"""`Qwen3Embedding`: Qwen3-Embedding as a LlamaIndex `BaseEmbedding`."""

from __future__ import annotations

from typing import Any

from llama_index.core.base.embeddings.base import BaseEmbedding, Embedding
from llama_index.core.storage.kvstore.types import BaseKVStore
from pydantic import Field, model_validator

from ...validation import check_text
from .._fields import EmbedderFields
from .cache import SidedKVStore, asking_side


class Qwen3Embedding(EmbedderFields, BaseEmbedding):
    """Qwen3-Embedding for LlamaIndex: queries get the task instruction, node text does not.

    ```python
    Settings.embed_model = Qwen3Embedding(model="Qwen/Qwen3-Embedding-0.6B")
    index = VectorStoreIndex.from_documents(documents)
    ```

    `embed_batch_size` is how many texts LlamaIndex hands over per call; inside each call the
    texts are sorted by length and cut into forward passes by `batch_tokens`, so a large value
    (the default 256) is faster than LlamaIndex's usual 10. Pass `embedder=qwen3_rag.Embedder(...)`
    to reuse a core instance instead of the settings.

    `embeddings_cache=` (any LlamaIndex KV store) is safe to share: entries are filed by side,
    checkpoint, `dim` and instruction (`cache_namespace`), so a query never gets a node's vector.
    """

    embed_batch_size: int = Field(default=256, gt=0, le=2048, description="Texts per call into the model.")

    @model_validator(mode="after")
    def _name_the_model(self) -> Qwen3Embedding:
        """LlamaIndex reports `model_name`: the checkpoint actually used (`model_name=` given is its alias)."""
        self.model_name = self.core.name
        return self

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "embeddings_cache" and isinstance(value, BaseKVStore) and not isinstance(value, SidedKVStore):
            value = SidedKVStore(value, self.cache_namespace)  # see cache.py: queries and texts kept apart
        super().__setattr__(name, value)

    @model_validator(mode="after")
    def _file_cache_by_side(self) -> Qwen3Embedding:
        self.embeddings_cache = self.embeddings_cache  # wrapped by __setattr__
        return self

    def get_query_embedding(self, query: str) -> Embedding:
        """LlamaIndex's query path (cache, events), with the cache reading and writing the query side."""
        side = asking_side.set("query")
        try:
            return super().get_query_embedding(query)
        finally:
            asking_side.reset(side)

    async def aget_query_embedding(self, query: str) -> Embedding:
        side = asking_side.set("query")
        try:
            return await super().aget_query_embedding(query)
        finally:
            asking_side.reset(side)

    @classmethod
    def class_name(cls) -> str:
        return "Qwen3Embedding"

    def _get_query_embedding(self, query: str) -> Embedding:
        return self.core.embed_queries([check_text(query, "query")])[0].tolist()

    def _get_text_embedding(self, text: str) -> Embedding:
        return self.core.embed_documents([check_text(text, "text")])[0].tolist()

    def _get_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return self.core.embed_documents(texts).tolist()

    async def _aget_query_embedding(self, query: str) -> Embedding:
        return (await self.core.aembed_queries([check_text(query, "query")]))[0].tolist()

    async def _aget_text_embedding(self, text: str) -> Embedding:
        return (await self.core.aembed_documents([check_text(text, "text")]))[0].tolist()

    async def _aget_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return (await self.core.aembed_documents(texts)).tolist()
