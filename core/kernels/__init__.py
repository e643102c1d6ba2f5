"""Everything that touches torch and model internals: loading, attention paths, pooling, the yes/no head.

The facades (`Embedder`, `Reranker`) reach them through the in-process backend (`local_backend.py`, the
contract of `core/backend.py`) and the loader.

May import: `checkpoint/` and the core's plain modules (errors, registry, tokenization, batching).
Never `remote/`, `local_index/`, `cli/` or a framework.
"""

from .embedding import embed_batch
from .loading import LoadedModel, load_model
from .rerank import score_batches

__all__ = ["LoadedModel", "embed_batch", "load_model", "score_batches"]
