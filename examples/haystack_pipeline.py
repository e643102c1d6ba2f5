"""Haystack: index with Qwen3DocumentEmbedder, then query with Qwen3TextEmbedder, retrieval and Qwen3Ranker.

pip install "qwen3-rag[haystack]"
python examples/haystack_pipeline.py                # hub models (downloads ~2.4 GB once)
python examples/haystack_pipeline.py --embedding-model ./my-embedder --reranker-model ./my-reranker
"""

from __future__ import annotations

from example_data import FACTS, QUESTIONS, model_arguments
from haystack import Document, Pipeline
from haystack.components.retrievers.in_memory import InMemoryEmbeddingRetriever
from haystack.components.writers import DocumentWriter
from haystack.document_stores.in_memory import InMemoryDocumentStore
from haystack.utils import ComponentDevice

from qwen3_rag.integrations.haystack import ALLOWED_MODULE, Qwen3DocumentEmbedder, Qwen3Ranker, Qwen3TextEmbedder


def main() -> None:
    args = model_arguments(__doc__)
    device = ComponentDevice.from_str(args.device) if args.device else None

    store = InMemoryDocumentStore()
    indexing = Pipeline()
    indexing.add_component("embedder", Qwen3DocumentEmbedder(model=args.embedding_model, device=device))
    indexing.add_component("writer", DocumentWriter(document_store=store))
    indexing.connect("embedder.documents", "writer.documents")
    indexing.run({"embedder": {"documents": [Document(content=fact) for fact in FACTS]}})

    query = Pipeline()
    query.add_component("query_embedder", Qwen3TextEmbedder(model=args.embedding_model, device=device))
    query.add_component("retriever", InMemoryEmbeddingRetriever(document_store=store, top_k=4))
    query.add_component("ranker", Qwen3Ranker(model=args.reranker_model, device=device, top_k=2))
    query.connect("query_embedder.embedding", "retriever.query_embedding")
    query.connect("retriever.documents", "ranker.documents")
    query = Pipeline.loads(query.dumps(), allowed_modules=[ALLOWED_MODULE])  # how a saved pipeline is loaded

    for question in QUESTIONS:
        result = query.run({"query_embedder": {"text": question}, "ranker": {"query": question}})
        print(f"\n{question}")
        for document in result["ranker"]["documents"]:
            print(f"  {document.score:.4f}  {document.content}")


if __name__ == "__main__":
    main()
