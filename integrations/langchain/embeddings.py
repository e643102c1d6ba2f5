"""`Qwen3Embeddings`: Qwen3-Embedding as a LangChain `Embeddings`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from langchain_core.embeddings import Embeddings
from langchain_core.stores import ByteStore

from ...validation import check_text
from .._fields import EmbedderFields

if TYPE_CHECKING:  # langchain-classic is needed only by cached()
    from langchain_classic.embeddings import CacheBackedEmbeddings


class Qwen3Embeddings(EmbedderFields, Embeddings):
    """Qwen3-Embedding for LangChain: `embed_query` adds the task instruction, `embed_documents` does not.

    Texts reach the model exactly as given (no newline rewriting). Vectors are unit length, so
    the dot product is the cosine similarity.

    ```python
    embeddings = Qwen3Embeddings(model="Qwen/Qwen3-Embedding-0.6B", instruction="question_answering")
    store = InMemoryVectorStore.from_texts(texts, embeddings)
    ```

    Pass `embedder=qwen3_rag.Embedder(...)` to reuse a core instance instead of the settings.
    """

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed documents as they are (with the instruction only when `symmetric`)."""
        return self.core.embed_documents(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        """Embed a search query, with the task instruction in front."""
        return self.core.embed_queries([check_text(text, "text")])[0].tolist()

    def cached(self, store: ByteStore, *, cache_queries: bool = True) -> CacheBackedEmbeddings:
        """These embeddings behind LangChain's `CacheBackedEmbeddings`, keyed safely in `store`.

        `CacheBackedEmbeddings.from_bytes_store(..., query_embedding_cache=True)` keys queries and
        documents alike on the raw text: a query equal to a stored document comes back as the
        document's vector (without the instruction), and a changed instruction serves stale
        vectors. Here each side has its own namespace (`cache_namespace`), and keys are SHA-256
        digests (LangChain's default SHA-1 lets crafted texts collide).
        """
        from langchain_classic.embeddings import CacheBackedEmbeddings

        documents = CacheBackedEmbeddings.from_bytes_store(
            self, store, namespace=self.cache_namespace("document"), key_encoder="sha256"
        )
        if not cache_queries:
            return documents
        queries = CacheBackedEmbeddings.from_bytes_store(
            self, store, namespace=self.cache_namespace("query"), query_embedding_cache=store, key_encoder="sha256"
        )
        return CacheBackedEmbeddings(
            self, documents.document_embedding_store, query_embedding_store=queries.query_embedding_store
        )

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        """`embed_documents` without blocking the event loop (an async HTTP client with `base_url=`)."""
        return (await self.core.aembed_documents(texts)).tolist()

    async def aembed_query(self, text: str) -> list[float]:
        """`embed_query` without blocking the event loop."""
        return (await self.core.aembed_queries([check_text(text, "text")]))[0].tolist()
