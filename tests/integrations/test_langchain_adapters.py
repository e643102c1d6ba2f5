"""LangChain adapters: the conformance suites, asymmetry, sharing, and the compressor's contract."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import numpy as np
import pytest
from conftest import CORPUS, QUESTION, VARIED_TEXTS, heartbeat
from langchain_core.documents import Document
from langchain_tests.integration_tests import EmbeddingsIntegrationTests
from langchain_tests.unit_tests import EmbeddingsUnitTests
from pydantic import ValidationError

from qwen3_rag import InvalidInputError
from qwen3_rag.integrations.langchain import Qwen3Embeddings, Qwen3Rerank


class _TinyEmbeddings:
    @pytest.fixture(autouse=True)
    def _tiny_path(self, tiny_models):
        self.path = tiny_models.embedding

    @property
    def embeddings_class(self) -> type[Qwen3Embeddings]:
        return Qwen3Embeddings

    @property
    def embedding_model_params(self) -> dict:
        return {"model": self.path, "device": "cpu"}


class TestQwen3EmbeddingsUnit(_TinyEmbeddings, EmbeddingsUnitTests):
    pass


class TestQwen3EmbeddingsIntegration(_TinyEmbeddings, EmbeddingsIntegrationTests):
    pass


@pytest.fixture(scope="module")
def lc_embeddings(embedder):
    return Qwen3Embeddings(embedder=embedder)


@pytest.fixture(scope="module")
def lc_rerank(reranker):
    return Qwen3Rerank(reranker=reranker, top_n=3)


WRONG_EMBEDDER = r"embedder= must be a qwen3_rag.Embedder or qwen3_rag.RemoteEmbedder instance, got str"


def test_query_and_document_sides_equal_the_core(lc_embeddings, embedder):
    for text in VARIED_TEXTS:
        query = lc_embeddings.embed_query(text)
        assert all(type(value) is float for value in query)
        np.testing.assert_array_equal(np.float32(query), embedder.embed_queries([text])[0])
    np.testing.assert_array_equal(
        np.float32(lc_embeddings.embed_documents(VARIED_TEXTS)), embedder.embed_documents(VARIED_TEXTS)
    )


def test_newlines_reach_the_model_unchanged(lc_embeddings, embedder):
    text = "line one\nline two"
    np.testing.assert_array_equal(
        np.float32(lc_embeddings.embed_documents([text])[0]), embedder.embed_documents([text])[0]
    )
    assert lc_embeddings.embed_documents([text]) != lc_embeddings.embed_documents(["line one line two"])


def test_instruction_changes_query_vectors_only(tiny_models, lc_embeddings):
    other = Qwen3Embeddings(model=tiny_models.embedding, device="cpu", instruction="code_search")
    assert other.embed_query(QUESTION) != lc_embeddings.embed_query(QUESTION)
    assert other.embed_documents(CORPUS) == lc_embeddings.embed_documents(CORPUS)


def test_settings_and_instances_share_one_copy_of_the_weights(tiny_models, embedder):
    from_settings = Qwen3Embeddings(model=tiny_models.embedding, device="cpu", dim=32)
    assert from_settings.core.model is embedder.model
    assert len(from_settings.embed_query("x")) == 32


def test_instance_plus_settings_is_an_error(embedder):
    with pytest.raises(ValidationError, match="either embedder= or model settings.*dim"):
        Qwen3Embeddings(embedder=embedder, dim=64)
    with pytest.raises(ValidationError, match=WRONG_EMBEDDER):
        Qwen3Embeddings(embedder="Qwen/Qwen3-Embedding-0.6B")


def test_bad_settings_name_the_argument(tiny_models):
    with pytest.raises(ValidationError, match="dim=8 is outside 32..64"):
        Qwen3Embeddings(model=tiny_models.embedding, device="cpu", dim=8)
    with pytest.raises(ValidationError, match="top_n=0 must be an integer >= 1"):
        Qwen3Rerank(model=tiny_models.reranker, device="cpu", top_n=0)
    with pytest.raises(ValidationError, match=r"score_threshold=1.5 must be a number in \[0, 1\]"):
        Qwen3Rerank(model=tiny_models.reranker, device="cpu", score_threshold=1.5)


def test_bad_texts_are_clear_errors(lc_embeddings):
    with pytest.raises(InvalidInputError, match="text must be a string"):
        lc_embeddings.embed_query(None)
    with pytest.raises(InvalidInputError, match=r"texts\[1\] must be a string"):
        lc_embeddings.embed_documents(["ok", 3])


def test_compressor_returns_best_copies_and_leaves_inputs_alone(lc_rerank, reranker):
    documents = [Document(page_content=text, metadata={"source": i}, id=str(i)) for i, text in enumerate(CORPUS)]
    before = [document.model_copy(deep=True) for document in documents]
    kept = lc_rerank.compress_documents(documents, QUESTION)
    expected = reranker.rerank(QUESTION, CORPUS, top_k=3)
    assert [document.id for document in kept] == [str(r.index) for r in expected]
    assert [document.metadata["relevance_score"] for document in kept] == [r.score for r in expected]
    assert all(document.metadata["source"] == int(document.id) for document in kept)
    assert documents == before


def test_score_threshold_keeps_only_confident_documents(reranker):
    scores = sorted(reranker.score(QUESTION, CORPUS))
    cut = float(scores[len(scores) // 2])
    kept = Qwen3Rerank(reranker=reranker, top_n=len(CORPUS), score_threshold=cut).compress_documents(
        [Document(page_content=text) for text in CORPUS], QUESTION
    )
    assert kept and all(document.metadata["relevance_score"] >= cut for document in kept)
    assert len(kept) == sum(score >= cut for score in scores)


def test_compressor_bad_input(lc_rerank):
    assert lc_rerank.compress_documents([], QUESTION) == []
    with pytest.raises(InvalidInputError, match=r"documents\[1\] must be a Document, got str"):
        lc_rerank.compress_documents([Document(page_content="a"), "b"], QUESTION)
    with pytest.raises(InvalidInputError, match="query must be a string"):
        lc_rerank.compress_documents([Document(page_content="a")], 42)
    with pytest.raises(InvalidInputError, match="documents must be a list of Documents"):
        lc_rerank.compress_documents("just text", QUESTION)


async def test_async_methods_match_sync_and_leave_the_loop_free(lc_embeddings, lc_rerank):
    documents = [Document(page_content=text) for text in CORPUS]
    async with heartbeat() as ticks:
        vectors, query, kept = await asyncio.gather(
            lc_embeddings.aembed_documents(CORPUS),
            lc_embeddings.aembed_query(QUESTION),
            lc_rerank.acompress_documents(documents, QUESTION),
        )
    assert ticks[0] > 3  # the loop ran other work while the model computed
    assert vectors == lc_embeddings.embed_documents(CORPUS)
    assert query == lc_embeddings.embed_query(QUESTION)
    assert kept == lc_rerank.compress_documents(documents, QUESTION)


def test_missing_langchain_names_the_extra():
    code = "import sys; sys.modules['langchain_core'] = None\nimport qwen3_rag.integrations.langchain"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode != 0
    assert 'pip install "langchain-core>=1.0"' in result.stderr and 'pip install ".[langchain]"' in result.stderr


def test_a_shared_cache_serves_a_query_its_document_vector_and_cached_does_not(tiny_models):
    from langchain_classic.embeddings import CacheBackedEmbeddings
    from langchain_core.stores import InMemoryByteStore

    embeddings = Qwen3Embeddings(model=tiny_models.embedding, device="cpu")
    text = "What is the capital of China?"
    naive = CacheBackedEmbeddings.from_bytes_store(
        embeddings, InMemoryByteStore(), namespace="qwen3", query_embedding_cache=True
    )
    document_vector = naive.embed_documents([text])[0]
    assert naive.embed_query(text) == document_vector != embeddings.embed_query(text)  # the failure

    store = InMemoryByteStore()
    safe = embeddings.cached(store)
    assert safe.embed_documents([text])[0] == document_vector
    assert safe.embed_query(text) == embeddings.embed_query(text)  # its own namespace: the query vector
    assert safe.embed_query(text) == embeddings.embed_query(text)  # and from the cache the second time
    other_task = Qwen3Embeddings(model=tiny_models.embedding, device="cpu", instruction="code_search")
    assert other_task.cached(store).embed_query(text) == other_task.embed_query(text)  # nothing stale
    assert other_task.cache_namespace("document") == embeddings.cache_namespace("document")  # docs are reused
    assert other_task.cache_namespace("query") != embeddings.cache_namespace("query")
    assert len(list(store.yield_keys())) == 3
