"""`Qwen3Rerank`: Qwen3-Reranker as a LangChain `BaseDocumentCompressor`."""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.callbacks import Callbacks
from langchain_core.documents import BaseDocumentCompressor, Document

from ...reranker import Ranked
from ...validation import check_items
from .._fields import RerankerFields


class Qwen3Rerank(RerankerFields, BaseDocumentCompressor):
    """Keep the `top_n` documents that best answer the query, best first, scored by Qwen3-Reranker.

    Each returned document is a copy with `metadata["relevance_score"]` set to the reranker's
    probability; the caller's documents are left untouched. Use it with
    `ContextualCompressionRetriever` or directly in an LCEL chain.

    Pass `reranker=qwen3_rag.Reranker(...)` to reuse a core instance instead of the settings.
    """

    def compress_documents(
        self, documents: Sequence[Document], query: str, callbacks: Callbacks | None = None
    ) -> Sequence[Document]:
        """The best `top_n` documents for `query` (at or above `score_threshold`), best first."""
        documents = check_items(documents, Document, "documents")
        ranked = self._cut().best(self.core, query, [d.page_content for d in documents])
        return _scored_copies(documents, ranked)

    async def acompress_documents(
        self, documents: Sequence[Document], query: str, callbacks: Callbacks | None = None
    ) -> Sequence[Document]:
        """`compress_documents` without blocking the event loop (an async HTTP client with `base_url=`)."""
        documents = check_items(documents, Document, "documents")
        ranked = await self._cut().abest(self.core, query, [d.page_content for d in documents])
        return _scored_copies(documents, ranked)


def _scored_copies(documents: list[Document], ranked: list[Ranked]) -> list[Document]:
    return [
        documents[r.index].model_copy(update={"metadata": {**documents[r.index].metadata, "relevance_score": r.score}})
        for r in ranked
    ]
