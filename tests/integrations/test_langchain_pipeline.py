"""LangChain end to end: InMemoryVectorStore retrieval, then reranking, in the core's order."""

from __future__ import annotations

import pytest
from conftest import CORPUS, QUESTION, two_stage
from langchain_classic.retrievers import ContextualCompressionRetriever
from langchain_core.documents import Document
from langchain_core.runnables import RunnableLambda, RunnablePassthrough
from langchain_core.vectorstores import InMemoryVectorStore

from qwen3_rag.integrations.langchain import Qwen3Embeddings, Qwen3Rerank

K = 5


@pytest.fixture(scope="module")
def store(tiny_models):
    store = InMemoryVectorStore(Qwen3Embeddings(model=tiny_models.embedding, device="cpu"))
    store.add_documents([Document(page_content=text, id=str(i)) for i, text in enumerate(CORPUS)])
    return store


@pytest.fixture(scope="module")
def rerank(tiny_models):
    return Qwen3Rerank(model=tiny_models.reranker, device="cpu", top_n=3)


def test_retriever_alone_uses_query_side_vectors(store, embedder):
    found = store.as_retriever(search_kwargs={"k": K}).invoke(QUESTION)
    similarity = embedder.embed_queries([QUESTION])[0] @ embedder.embed_documents(CORPUS).T
    assert [document.id for document in found] == [str(i) for i in similarity.argsort(kind="stable")[::-1][:K]]


async def test_contextual_compression_retriever_sync_and_async(store, rerank, embedder, reranker):
    retriever = ContextualCompressionRetriever(
        base_compressor=rerank, base_retriever=store.as_retriever(search_kwargs={"k": K})
    )
    ids, scores = two_stage(embedder, reranker, K, 3)
    for found in (retriever.invoke(QUESTION), await retriever.ainvoke(QUESTION)):
        assert [document.id for document in found] == ids
        assert [document.metadata["relevance_score"] for document in found] == pytest.approx(scores, abs=1e-6)


async def test_plain_lcel_chain_without_langchain_classic(store, rerank, embedder, reranker):
    chain = {"documents": store.as_retriever(search_kwargs={"k": K}), "query": RunnablePassthrough()} | RunnableLambda(
        lambda found: rerank.compress_documents(found["documents"], found["query"])
    )
    ids, _ = two_stage(embedder, reranker, K, 3)
    assert [document.id for document in chain.invoke(QUESTION)] == ids
    assert [document.id for document in (await chain.abatch([QUESTION]))[0]] == ids
