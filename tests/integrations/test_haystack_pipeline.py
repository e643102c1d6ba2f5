"""Haystack end to end: an indexing and a query pipeline, sync and async, and a YAML round trip."""

from __future__ import annotations

import pytest
from conftest import CORPUS, QUESTION, two_stage
from haystack import Document, Pipeline
from haystack.components.retrievers.in_memory import InMemoryEmbeddingRetriever
from haystack.components.writers import DocumentWriter
from haystack.core.errors import DeserializationError
from haystack.document_stores.in_memory import InMemoryDocumentStore
from haystack.utils import ComponentDevice

from qwen3_rag.integrations.haystack import ALLOWED_MODULE, Qwen3DocumentEmbedder, Qwen3Ranker, Qwen3TextEmbedder

CPU = ComponentDevice.from_str("cpu")
K = 5


@pytest.fixture(scope="module")
def store(tiny_models):
    store = InMemoryDocumentStore(index="qwen3-rag-haystack-test")
    indexing = Pipeline()
    indexing.add_component("embedder", Qwen3DocumentEmbedder(model=tiny_models.embedding, device=CPU))
    indexing.add_component("writer", DocumentWriter(document_store=store))
    indexing.connect("embedder.documents", "writer.documents")
    indexing.run({"embedder": {"documents": [Document(content=text, id=str(i)) for i, text in enumerate(CORPUS)]}})
    return store


@pytest.fixture(scope="module")
def query_pipeline(tiny_models, store):
    pipeline = Pipeline()
    pipeline.add_component("query_embedder", Qwen3TextEmbedder(model=tiny_models.embedding, device=CPU))
    pipeline.add_component("retriever", InMemoryEmbeddingRetriever(document_store=store, top_k=K))
    pipeline.add_component("ranker", Qwen3Ranker(model=tiny_models.reranker, device=CPU, top_k=3))
    pipeline.connect("query_embedder.embedding", "retriever.query_embedding")
    pipeline.connect("retriever.documents", "ranker.documents")
    return pipeline


def inputs():
    return {"query_embedder": {"text": QUESTION}, "ranker": {"query": QUESTION}}


def test_indexing_pipeline_stores_document_side_vectors(store, embedder):
    stored = sorted(store.filter_documents(), key=lambda d: int(d.id))
    assert [d.content for d in stored] == CORPUS
    assert [d.embedding for d in stored] == embedder.embed_documents(CORPUS).tolist()


async def test_query_pipeline_sync_and_async(query_pipeline, embedder, reranker):
    ids, scores = two_stage(embedder, reranker, K, 3)
    for result in (query_pipeline.run(inputs()), await query_pipeline.run_async(inputs())):
        found = result["ranker"]["documents"]
        assert [d.id for d in found] == ids
        assert [d.score for d in found] == pytest.approx(scores, abs=1e-6)


def test_query_pipeline_survives_yaml_dump_and_load(query_pipeline, embedder, reranker):
    text = query_pipeline.dumps()
    with pytest.raises(DeserializationError, match="allowlist"):
        Pipeline.loads(text)  # Haystack's default: components outside haystack are refused
    loaded = Pipeline.loads(text, allowed_modules=[ALLOWED_MODULE])
    assert loaded.dumps() == text
    assert [d.id for d in loaded.run(inputs())["ranker"]["documents"]] == two_stage(embedder, reranker, K, 3)[0]
