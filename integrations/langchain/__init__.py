"""LangChain adapters: `Qwen3Embeddings` (Embeddings) and `Qwen3Rerank` (BaseDocumentCompressor).

Queries get the task instruction and documents do not, with no setup on the caller's side.
"""

from .._shared import require

require("langchain_core", "langchain")

from .embeddings import Qwen3Embeddings  # noqa: E402
from .rerank import Qwen3Rerank  # noqa: E402

__all__ = ["Qwen3Embeddings", "Qwen3Rerank"]
