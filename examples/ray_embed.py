"""Ray Data: embed a corpus into Parquet and rerank (query, document) pairs on a Ray cluster.

pip install "qwen3-rag[ray]"
python examples/ray_embed.py                          # a local cluster on this machine
python examples/ray_embed.py --address auto           # an existing cluster (ray start --head ...)
python examples/ray_embed.py --rows 20000 --concurrency 2 --embedding-model ./my-embedder
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import pyarrow.parquet as pq
import ray
from example_data import FACTS, QUESTIONS

from qwen3_rag import DEFAULT_EMBEDDING_MODEL, DEFAULT_RERANKER_MODEL
from qwen3_rag.integrations.ray import rerank_dataset, write_embeddings


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--embedding-model", default=DEFAULT_EMBEDDING_MODEL, help="hub id or local directory")
    parser.add_argument("--reranker-model", default=DEFAULT_RERANKER_MODEL, help="hub id or local directory")
    parser.add_argument("--device", default=None, help="cpu, cuda, ... (default: each worker's best)")
    parser.add_argument("--address", default=None, help="Ray cluster address (default: start a local one)")
    parser.add_argument("--rows", type=int, default=2000, help="corpus rows to embed")
    parser.add_argument("--concurrency", type=int, default=1, help="model actors (one per GPU on a GPU cluster)")
    parser.add_argument("--num-gpus", type=float, default=None, help="GPUs per actor (1 on a GPU cluster)")
    parser.add_argument("--out", default=None, help="output folder (default: a temporary one)")
    return parser.parse_args()


def main() -> None:
    args = arguments()
    ray.init(address=args.address, include_dashboard=False)
    corpus = ray.data.range(args.rows).map(
        lambda row: {"id": row["id"], "text": f"{FACTS[row['id'] % len(FACTS)]} (copy {row['id']})"}
    )
    out = args.out or tempfile.mkdtemp(prefix="qwen3-rag-ray-")
    summary = write_embeddings(
        corpus,
        str(Path(out) / "vectors"),
        model=args.embedding_model,
        device=args.device,
        concurrency=args.concurrency,
        num_gpus=args.num_gpus,
        batch_size=256,
    )
    print(summary)
    print(f"schema: {pq.read_schema(next((Path(out) / 'vectors').glob('*.parquet')))}")

    pairs = ray.data.from_items([{"query": q, "document": fact} for q in QUESTIONS for fact in FACTS])
    scored = rerank_dataset(pairs, model=args.reranker_model, device=args.device, num_gpus=args.num_gpus)
    for row in sorted(scored.take_all(), key=lambda row: (row["query"], -row["score"])):
        print(f"  {row['score']:.4f}  {row['query']} | {row['document']}")


if __name__ == "__main__":
    main()
