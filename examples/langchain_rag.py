"""LangChain: retrieve with Qwen3-Embedding from an in-memory vector store, then rerank with Qwen3-Reranker.

pip install "qwen3-rag[langchain]"
python examples/langchain_rag.py                    # hub models (downloads ~2.4 GB once)
python examples/langchain_rag.py --embedding-model ./my-embedder --reranker-model ./my-reranker
"""

from __future__ import annotations

from example_data import FACTS, QUESTIONS, model_arguments
from langchain_core.documents import Document
from langchain_core.runnables import RunnableLambda, RunnablePassthrough
from langchain_core.vectorstores import InMemoryVectorStore

from qwen3_rag.integrations.langchain import Qwen3Embeddings, Qwen3Rerank


def build_chain(embedding_model: str, reranker_model: str, device: str | None):
    """question -> top 4 by embedding similarity -> the best 2 by the reranker."""
    embeddings = Qwen3Embeddings(model=embedding_model, device=device)  # instruction goes on queries only
    store = InMemoryVectorStore(embeddings)
    store.add_documents([Document(page_content=fact, metadata={"line": i}) for i, fact in enumerate(FACTS)])
    rerank = Qwen3Rerank(model=reranker_model, device=device, top_n=2)
    retrieve = {"documents": store.as_retriever(search_kwargs={"k": 4}), "question": RunnablePassthrough()}
    return retrieve | RunnableLambda(lambda found: rerank.compress_documents(found["documents"], found["question"]))


def main() -> None:
    args = model_arguments(__doc__)

    chain = build_chain(args.embedding_model, args.reranker_model, args.device)
    for question, documents in zip(QUESTIONS, chain.batch(QUESTIONS), strict=True):
        print(f"\n{question}")
        for document in documents:
            print(f"  {document.metadata['relevance_score']:.4f}  {document.page_content}")


if __name__ == "__main__":
    main()
