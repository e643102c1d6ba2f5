"""LlamaIndex adapters: asymmetry, async parity, events, and the postprocessor's contract."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from conftest import CORPUS, QUESTION, VARIED_TEXTS
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events.rerank import ReRankEndEvent, ReRankStartEvent
from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle, TextNode
from pydantic import ValidationError

from qwen3_rag import InvalidArgumentError, InvalidInputError
from qwen3_rag.integrations.llama_index import Qwen3Embedding, Qwen3Rerank


@pytest.fixture(scope="module")
def li_embedding(embedder):
    return Qwen3Embedding(embedder=embedder)


@pytest.fixture(scope="module")
def li_rerank(reranker):
    return Qwen3Rerank(reranker=reranker, top_n=3)


WRONG_EMBEDDER = r"embedder= must be a qwen3_rag.Embedder or qwen3_rag.RemoteEmbedder instance, got str"


def scored_nodes():
    return [
        NodeWithScore(node=TextNode(text=text, id_=str(i), metadata={"position": i}), score=0.5)
        for i, text in enumerate(CORPUS)
    ]


def test_query_and_text_sides_equal_the_core(li_embedding, embedder):
    for text in VARIED_TEXTS:
        np.testing.assert_array_equal(
            np.float32(li_embedding.get_query_embedding(text)), embedder.embed_queries([text])[0]
        )
        np.testing.assert_array_equal(
            np.float32(li_embedding.get_text_embedding(text)), embedder.embed_documents([text])[0]
        )
    batch = li_embedding.get_text_embedding_batch(VARIED_TEXTS)
    np.testing.assert_array_equal(np.float32(batch), embedder.embed_documents(VARIED_TEXTS))


async def test_async_embeddings_equal_sync(li_embedding):
    assert await li_embedding.aget_query_embedding(QUESTION) == li_embedding.get_query_embedding(QUESTION)
    assert await li_embedding.aget_text_embedding(CORPUS[0]) == li_embedding.get_text_embedding(CORPUS[0])
    assert (await li_embedding.aget_text_embedding_batch(CORPUS)) == li_embedding.get_text_embedding_batch(CORPUS)


def test_small_embed_batch_size_changes_calls_not_vectors(tiny_models, li_embedding):
    small = Qwen3Embedding(model=tiny_models.embedding, device="cpu", embed_batch_size=3)
    np.testing.assert_allclose(
        small.get_text_embedding_batch(CORPUS), li_embedding.get_text_embedding_batch(CORPUS), atol=1e-6, rtol=0
    )


def test_names_and_serialisation(tiny_models, li_embedding, embedder):
    assert Qwen3Embedding.class_name() == "Qwen3Embedding" and Qwen3Rerank.class_name() == "Qwen3Rerank"
    assert li_embedding.model_name == embedder.model.key.source
    from_settings = Qwen3Embedding(model=tiny_models.embedding, device="cpu", instruction="code_search")
    assert from_settings.model_name == tiny_models.embedding
    assert from_settings.core.model is embedder.model  # one copy of the weights
    restored = Qwen3Embedding.from_dict(from_settings.to_dict())
    assert restored.get_query_embedding(QUESTION) == from_settings.get_query_embedding(QUESTION)
    assert from_settings.get_query_embedding(QUESTION) != li_embedding.get_query_embedding(QUESTION)


def test_rerank_returns_new_nodes_in_the_core_order(li_rerank, reranker):
    nodes = scored_nodes()
    kept = li_rerank.postprocess_nodes(nodes, query_str=QUESTION)
    texts = [n.node.get_content(metadata_mode=MetadataMode.EMBED) for n in nodes]
    expected = reranker.rerank(QUESTION, texts, top_k=3)
    assert [n.node.node_id for n in kept] == [str(r.index) for r in expected]
    assert [n.score for n in kept] == [r.score for r in expected]
    assert all(n.score == 0.5 for n in nodes)  # the inputs keep their retrieval scores
    assert all(k is not nodes[r.index] for k, r in zip(kept, expected, strict=True))


def test_metadata_mode_decides_what_the_reranker_reads(reranker):
    nodes = scored_nodes()
    embed_view = Qwen3Rerank(reranker=reranker, top_n=len(nodes)).postprocess_nodes(nodes, query_str=QUESTION)
    text_only = Qwen3Rerank(reranker=reranker, top_n=len(nodes), metadata_mode=MetadataMode.NONE)
    plain = text_only.postprocess_nodes(nodes, query_str=QUESTION)
    scores = reranker.score(QUESTION, CORPUS)
    assert sorted(n.score for n in plain) == sorted(float(s) for s in scores)
    assert sorted(n.score for n in embed_view) != sorted(n.score for n in plain)


async def test_async_rerank_equals_sync(li_rerank):
    nodes = scored_nodes()
    sync = li_rerank.postprocess_nodes(nodes, query_str=QUESTION)
    async_ = await li_rerank.apostprocess_nodes(nodes, query_bundle=QueryBundle(QUESTION))
    assert [(n.node.node_id, n.score) for n in async_] == [(n.node.node_id, n.score) for n in sync]


class _Collect(BaseEventHandler):
    events: list = []

    @classmethod
    def class_name(cls) -> str:
        return "_Collect"

    def handle(self, event, **kwargs) -> None:
        self.events.append(event)


def test_rerank_emits_instrumentation_events(li_rerank):
    handler = _Collect(events=[])
    root = get_dispatcher()
    root.add_event_handler(handler)
    try:
        kept = li_rerank.postprocess_nodes(scored_nodes(), query_str=QUESTION)
    finally:
        root.event_handlers.remove(handler)
    start = [e for e in handler.events if isinstance(e, ReRankStartEvent)]
    end = [e for e in handler.events if isinstance(e, ReRankEndEvent)]
    assert len(start) == 1 and start[0].top_n == 3 and len(start[0].nodes) == len(CORPUS)
    assert len(end) == 1 and [n.node.node_id for n in end[0].nodes] == [n.node.node_id for n in kept]


def test_rerank_bad_input(li_rerank, tiny_models):
    assert li_rerank.postprocess_nodes([], query_str=QUESTION) == []
    with pytest.raises(InvalidArgumentError, match="needs a query"):
        li_rerank.postprocess_nodes(scored_nodes())
    with pytest.raises(InvalidInputError, match=r"nodes\[0\] must be a NodeWithScore, got TextNode"):
        li_rerank.postprocess_nodes([TextNode(text="x")], query_str=QUESTION)
    with pytest.raises(ValidationError, match="top_n=0 must be an integer >= 1"):
        Qwen3Rerank(model=tiny_models.reranker, device="cpu", top_n=0)


def test_missing_llama_index_names_the_extra():
    code = "import sys; sys.modules['llama_index'] = None\nimport qwen3_rag.integrations.llama_index"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode != 0
    assert 'pip install "llama-index-core>=0.12"' in result.stderr and 'pip install ".[llama-index]"' in result.stderr


def test_embedder_argument_must_be_a_core_embedder(embedder):
    with pytest.raises(ValidationError, match=WRONG_EMBEDDER):
        Qwen3Embedding(embedder="Qwen/Qwen3-Embedding-0.6B")
    with pytest.raises(ValidationError, match="either embedder= or model settings.*dim"):
        Qwen3Embedding(embedder=embedder, dim=32)


def test_embeddings_cache_is_filed_by_side_and_instruction(tiny_models, embedder):
    """LlamaIndex keys its cache on the raw text; unfiled, a query equal to a node text gets the node's vector."""
    from llama_index.core.base.embeddings.base import BaseEmbedding
    from llama_index.core.storage.kvstore import SimpleKVStore

    text = "What is the capital of China?"
    store = SimpleKVStore()
    cached = Qwen3Embedding(model=tiny_models.embedding, device="cpu", embeddings_cache=store)
    document_vector = cached.get_text_embedding_batch([text])[0]
    np.testing.assert_allclose(document_vector, embedder.embed_documents([text])[0], atol=1e-6)
    query_vector = cached.get_query_embedding(text)
    np.testing.assert_allclose(query_vector, embedder.embed_queries([text])[0], atol=1e-6)
    assert cached.get_query_embedding(text) == query_vector  # served from the cache the second time
    other_task = Qwen3Embedding(
        model=tiny_models.embedding, device="cpu", instruction="code_search", embeddings_cache=store
    )
    np.testing.assert_allclose(
        other_task.get_query_embedding(text), embedder.embed_queries([text], instruction="code_search")[0], atol=1e-6
    )
    collections = {name for name in store.to_dict()}
    assert collections == {
        f"embeddings/{cached.cache_namespace('document')}",
        f"embeddings/{cached.cache_namespace('query')}",
        f"embeddings/{other_task.cache_namespace('query')}",
    }

    # The failure the filing prevents: BaseEmbedding's own lookup, on the store itself.
    plain = SimpleKVStore()
    plain.put(text, {"id": document_vector}, collection="embeddings")
    unfiled = Qwen3Embedding(model=tiny_models.embedding, device="cpu")
    object.__setattr__(unfiled, "embeddings_cache", plain)  # bypasses the filing, as a plain BaseEmbedding has it
    assert BaseEmbedding.get_query_embedding(unfiled, text) == document_vector


async def test_async_query_embedding_uses_the_query_side_of_the_cache(tiny_models, embedder):
    from llama_index.core.storage.kvstore import SimpleKVStore

    text = "What is the capital of China?"
    cached = Qwen3Embedding(model=tiny_models.embedding, device="cpu", embeddings_cache=SimpleKVStore())
    await cached.aget_text_embedding_batch([text])
    np.testing.assert_allclose(await cached.aget_query_embedding(text), embedder.embed_queries([text])[0], atol=1e-6)
