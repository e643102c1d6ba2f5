"""`Qwen3Embedding`: Qwen3-Embedding as a LlamaIndex `BaseEmbedding`."""

from __future__ import annotations

import asyncio

from llama_index.core.base.embeddings.base import BaseEmbedding, Embedding
from pydantic import Field, model_validator

from ...validation import check_text
from .._fields import EmbedderFields


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
    """

    embed_batch_size: int = Field(default=256, gt=0, le=2048, description="Texts per call into the model.")

    @model_validator(mode="after")
    def _name_the_model(self) -> Qwen3Embedding:
        """LlamaIndex reports `model_name`: the checkpoint actually used (`model_name=` given is its alias)."""
        self.model_name = self.core.model.key.source
        return self

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
        return await asyncio.to_thread(self._get_query_embedding, query)

    async def _aget_text_embedding(self, text: str) -> Embedding:
        return await asyncio.to_thread(self._get_text_embedding, text)

    async def _aget_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return await asyncio.to_thread(self._get_text_embeddings, texts)
