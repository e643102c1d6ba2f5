"""LlamaIndex end to end: a VectorStoreIndex query engine and retriever with reranking, no LLM service."""

from __future__ import annotations

import pytest
from conftest import CORPUS, QUESTION, two_stage
from llama_index.core import Settings, VectorStoreIndex
from llama_index.core.llms import MockLLM
from llama_index.core.schema import TextNode

from qwen3_rag.integrations.llama_index import Qwen3Embedding, Qwen3Rerank

K = 5


@pytest.fixture(scope="module")
def index(tiny_models):
    previous = Settings._llm
    Settings.llm = MockLLM()  # keeps the query engine local; it would otherwise look for OpenAI
    nodes = [TextNode(text=text, id_=str(i)) for i, text in enumerate(CORPUS)]
    yield VectorStoreIndex(nodes, embed_model=Qwen3Embedding(model=tiny_models.embedding, device="cpu"))
    Settings._llm = previous


@pytest.fixture(scope="module")
def rerank(tiny_models):
    return Qwen3Rerank(model=tiny_models.reranker, device="cpu", top_n=3)


def ids_and_scores(source_nodes):
    return [n.node.node_id for n in source_nodes], [n.score for n in source_nodes]


async def test_query_engine_sync_and_async(index, rerank, embedder, reranker):
    engine = index.as_query_engine(similarity_top_k=K, node_postprocessors=[rerank])
    ids, scores = two_stage(embedder, reranker, K, 3)
    for response in (engine.query(QUESTION), await engine.aquery(QUESTION)):
        got_ids, got_scores = ids_and_scores(response.source_nodes)
        assert got_ids == ids
        assert got_scores == pytest.approx(scores, abs=1e-6)


async def test_retriever_then_postprocessor(index, rerank, embedder, reranker):
    retriever = index.as_retriever(similarity_top_k=K)
    ids, _ = two_stage(embedder, reranker, K, 3)
    for found in (retriever.retrieve(QUESTION), await retriever.aretrieve(QUESTION)):
        assert ids_and_scores(rerank.postprocess_nodes(found, query_str=QUESTION))[0] == ids
