"""Ray Data workloads: embed and rerank a `ray.data.Dataset` across a cluster with the core's kernels.

`embed_dataset` / `rerank_dataset` add a column lazily; `write_embeddings` streams (id, vector)
Parquet out; `write_index` writes a folder index that `qwen3-rag search` reads. The callable
classes `Qwen3EmbedBatch` / `Qwen3RerankBatch` also work directly with
`Dataset.map_batches(..., compute=ray.data.ActorPoolStrategy(size=N), num_gpus=...)`; each actor
loads its model once.
"""

from .._shared import require

require("ray.data", "ray")

from .batches import Qwen3EmbedBatch, Qwen3RerankBatch  # noqa: E402
from .jobs import WriteSummary, embed_dataset, rerank_dataset, write_embeddings, write_index  # noqa: E402

__all__ = [
    "Qwen3EmbedBatch",
    "Qwen3RerankBatch",
    "WriteSummary",
    "embed_dataset",
    "rerank_dataset",
    "write_embeddings",
    "write_index",
]
