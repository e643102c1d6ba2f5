"""Embed a few documents and queries, retrieve by dot product, then rerank.

python examples/quickstart.py                       # hub models (downloads ~2.4 GB once)
python examples/quickstart.py --embedding-model ./my-embedder --reranker-model ./my-reranker
"""

from __future__ import annotations

from example_data import FACTS, QUESTIONS, model_arguments

from qwen3_rag import Embedder, Reranker


def main() -> None:
    args = model_arguments(__doc__)

    embedder = Embedder(args.embedding_model, device=args.device)
    reranker = Reranker(args.reranker_model, device=args.device)
    similarity = embedder.embed_queries(QUESTIONS) @ embedder.embed_documents(FACTS).T
    for query, row in zip(QUESTIONS, similarity, strict=True):
        candidates = [FACTS[i] for i in row.argsort()[::-1][:3]]  # recall: top 3 by cosine
        print(f"\n{query}")
        for ranked in reranker.rerank(query, candidates):  # then rerank them
            print(f"  {ranked.score:.4f}  {candidates[ranked.index]}")


if __name__ == "__main__":
    main()
