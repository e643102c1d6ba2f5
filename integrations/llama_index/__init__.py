"""LlamaIndex adapters: `Qwen3Embedding` (BaseEmbedding) and `Qwen3Rerank` (BaseNodePostprocessor).

Queries get the task instruction and documents do not, with no setup on the caller's side.
"""

from .._shared import require

require("llama_index.core", "llama-index")

from .embedding import Qwen3Embedding  # noqa: E402
from .rerank import Qwen3Rerank  # noqa: E402

__all__ = ["Qwen3Embedding", "Qwen3Rerank"]
