"""Many threads and coroutines sharing one model get exactly the answers of serial calls."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
from conftest import CORPUS, QUESTION, VARIED_TEXTS, heartbeat
from haystack import Document
from llama_index.core.schema import NodeWithScore, TextNode

from qwen3_rag.integrations.haystack import Qwen3Ranker
from qwen3_rag.integrations.langchain import Qwen3Embeddings
from qwen3_rag.integrations.llama_index import Qwen3Embedding, Qwen3Rerank

THREADS, CALLS = 8, 4


def rotations(items, count):
    return [items[i % len(items) :] + items[: i % len(items)] for i in range(count)]


def test_threads_share_one_embedder_and_reranker(embedder, reranker, flickering_load):
    """Bit for bit, with the thread count changing under a load that comes and goes."""
    inputs = rotations(VARIED_TEXTS, THREADS * CALLS)
    serial = [(embedder.embed_documents(t), reranker.score(t[0], t[1:])) for t in inputs]

    def work(i):
        return embedder.embed_documents(inputs[i]), reranker.score(inputs[i][0], inputs[i][1:])

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        results = list(pool.map(work, range(len(inputs))))
    for (vectors, scores), (serial_vectors, serial_scores) in zip(results, serial, strict=True):
        np.testing.assert_array_equal(vectors, serial_vectors)
        np.testing.assert_array_equal(scores, serial_scores)


def test_threads_share_adapters(embedder, reranker):
    langchain = Qwen3Embeddings(embedder=embedder)
    llama_index = Qwen3Embedding(embedder=embedder)
    haystack = Qwen3Ranker(model=reranker.model.key.source, device=None, top_k=3)
    inputs = rotations(CORPUS, THREADS * CALLS)

    def work(i):
        documents = [Document(content=text) for text in inputs[i]]
        return (
            langchain.embed_documents(inputs[i]),
            llama_index.get_query_embedding(inputs[i][0]),
            [d.content for d in haystack.run(query=QUESTION, documents=documents)["documents"]],
        )

    serial = [work(i) for i in range(len(inputs))]
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        assert list(pool.map(work, range(len(inputs)))) == serial


async def test_async_adapters_leave_the_event_loop_free(embedder, reranker):
    nodes = [NodeWithScore(node=TextNode(text=text), score=0.0) for text in CORPUS]
    calls = [
        Qwen3Embedding(embedder=embedder).aget_text_embedding_batch(CORPUS),
        Qwen3Rerank(reranker=reranker).apostprocess_nodes(nodes, query_str=QUESTION),
        Qwen3Ranker(model=reranker.model.key.source).run_async(
            query=QUESTION, documents=[Document(content=text) for text in CORPUS]
        ),
    ]
    for call in calls:
        async with heartbeat() as ticks:
            await call
        assert ticks[0] > 3, "the event loop stalled while the model ran"
