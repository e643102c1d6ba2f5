"""Everything that touches torch and model internals: loading, attention paths, pooling, the yes/no head.

The facades (`Embedder`, `Reranker`) only call the functions re-exported here.
"""

from .embedding import embed_batch
from .loading import LoadedModel, load_model
from .rerank import score_batches

__all__ = ["LoadedModel", "embed_batch", "load_model", "score_batches"]
