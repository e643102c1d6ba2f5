"""LlamaIndex's `embeddings_cache`, filed by side so that a query never comes back as a document vector.

`BaseEmbedding` looks queries and texts up under the same key, the raw text, in one collection:
a query equal to a cached node text would get the node's vector (no instruction), and a changed
instruction would serve stale vectors. `SidedKVStore` wraps the user's store and files every
entry under `Qwen3Embedding.cache_namespace(side)`; the embedding marks which side is asking.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import Literal

from llama_index.core.storage.kvstore.types import DEFAULT_COLLECTION, BaseKVStore

Side = Literal["query", "document"]
# Which side the current call embeds; a ContextVar, so threads and asyncio tasks each see their own.
asking_side: ContextVar[Side] = ContextVar("qwen3_rag_cache_side", default="document")


class SidedKVStore(BaseKVStore):
    """A view of `store` in which each collection is split by the side being embedded."""

    def __init__(self, store: BaseKVStore, namespace: Callable[[Side], str]):
        self.store = store
        self.namespace = namespace

    def _collection(self, collection: str) -> str:
        return f"{collection}/{self.namespace(asking_side.get())}"

    def put(self, key: str, val: dict, collection: str = DEFAULT_COLLECTION) -> None:
        self.store.put(key, val, collection=self._collection(collection))

    async def aput(self, key: str, val: dict, collection: str = DEFAULT_COLLECTION) -> None:
        await self.store.aput(key, val, collection=self._collection(collection))

    def get(self, key: str, collection: str = DEFAULT_COLLECTION) -> dict | None:
        return self.store.get(key, collection=self._collection(collection))

    async def aget(self, key: str, collection: str = DEFAULT_COLLECTION) -> dict | None:
        return await self.store.aget(key, collection=self._collection(collection))

    def get_all(self, collection: str = DEFAULT_COLLECTION) -> dict[str, dict]:
        return self.store.get_all(collection=self._collection(collection))

    async def aget_all(self, collection: str = DEFAULT_COLLECTION) -> dict[str, dict]:
        return await self.store.aget_all(collection=self._collection(collection))

    def delete(self, key: str, collection: str = DEFAULT_COLLECTION) -> bool:
        return self.store.delete(key, collection=self._collection(collection))

    async def adelete(self, key: str, collection: str = DEFAULT_COLLECTION) -> bool:
        return await self.store.adelete(key, collection=self._collection(collection))
