"""Embed a few documents and queries, retrieve by dot product, then rerank.

    python examples/quickstart.py                       # hub models (downloads ~2.4 GB once)
    python examples/quickstart.py --embedding-model ./my-embedder --reranker-model ./my-reranker
"""

from __future__ import annotations

import argparse

from qwen3_rag import DEFAULT_EMBEDDING_MODEL, DEFAULT_RERANKER_MODEL, Embedder, Reranker

DOCUMENTS = [
    "The capital of China is Beijing.",
    "Gravity is a force that attracts two bodies towards each other.",
    "Photosynthesis turns light, water and carbon dioxide into sugar and oxygen.",
    "Paris is the capital and largest city of France.",
]
QUERIES = ["What is the capital of China?", "Explain gravity"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--embedding-model", default=DEFAULT_EMBEDDING_MODEL, help="hub id or local directory")
    parser.add_argument("--reranker-model", default=DEFAULT_RERANKER_MODEL, help="hub id or local directory")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:N or mps (default: best available)")
    args = parser.parse_args()

    embedder = Embedder(args.embedding_model, device=args.device)
    reranker = Reranker(args.reranker_model, device=args.device)
    similarity = embedder.embed_queries(QUERIES) @ embedder.embed_documents(DOCUMENTS).T
    for query, row in zip(QUERIES, similarity, strict=True):
        candidates = [DOCUMENTS[i] for i in row.argsort()[::-1][:3]]  # recall: top 3 by cosine
        print(f"\n{query}")
        for ranked in reranker.rerank(query, candidates):  # then rerank them
            print(f"  {ranked.score:.4f}  {candidates[ranked.index]}")


if __name__ == "__main__":
    main()
