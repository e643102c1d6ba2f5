"""The published checkpoints, where their weights are already in the local Hugging Face cache.

Skipped with a reason otherwise (this project's machines cannot download them). With the weights
present they check the official repository's own figures and every attention path."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from qwen3_reference import official_scores

from qwen3_rag import Embedder, Reranker

# The official README example (fp32, Qwen3-Embedding-0.6B): two queries, two documents.
QUERIES = ["What is the capital of China?", "Explain gravity"]
DOCUMENTS = [
    "The capital of China is Beijing.",
    "Gravity is a force that attracts two bodies towards each other. It gives weight to physical objects and is "
    "responsible for the movement of planets around the sun.",
]
PUBLISHED = [[0.7645568251609802, 0.14142508804798126], [0.13549736142158508, 0.5999549627304077]]


def cached(repository: str) -> str | None:
    """The local snapshot of `repository`, or None when its weights are not in the cache."""
    try:
        from huggingface_hub import snapshot_download

        return snapshot_download(
            repository, local_files_only=True, allow_patterns=["*.json", "*.safetensors", "*.txt", "*.model"]
        )
    except Exception:  # noqa: BLE001 - any failure means: not available here
        return None


def needs(repository: str) -> str:
    path = cached(repository)
    if path is None:
        pytest.skip(f"{repository} is not in the local Hugging Face cache (no download from tests)")
    return path


def test_embedding_0_6b_gives_the_published_scores():
    embedder = Embedder(needs("Qwen/Qwen3-Embedding-0.6B"), device="cpu", dtype="float32")
    scores = embedder.embed_queries(QUERIES) @ embedder.embed_documents(DOCUMENTS).T
    np.testing.assert_allclose(scores, PUBLISHED, rtol=0, atol=1e-4)
    assert embedder.model.loader == "direct"  # the official files are read without transformers' model classes


@pytest.mark.parametrize("size", ["0.6B", "4B", "8B"])
def test_reranker_checkpoints_load_on_every_attention_path_and_match_the_official_code(size):
    path = needs(f"Qwen/Qwen3-Reranker-{size}")
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    expected = official_scores(
        path, "Given a web search query, retrieve relevant passages that answer the query", QUERIES[0], DOCUMENTS
    )
    for device in devices:  # CPU: packed SDPA; CUDA bf16: a varlen kernel or padded SDPA, whichever loads
        for dtype in ["float32"] if device == "cpu" else ["float32", "bfloat16"]:
            reranker = Reranker(path, device=device, dtype=dtype)
            scores = reranker.score(QUERIES[0], DOCUMENTS)
            tolerance = 1e-5 if dtype == "float32" else 2e-2
            np.testing.assert_allclose(
                scores,
                expected,
                rtol=0,
                atol=tolerance,
                err_msg=f"{size} on {device} {dtype} ({reranker.model.attention_path})",
            )
            if reranker.model.packs_batches:
                assert reranker.model.loader == "direct"


def test_int8_keeps_the_published_ranking():
    """The int8 mode is a tolerance, not parity: each query still prefers its own document, as published,
    and the scores stay near the published ones."""
    embedder = Embedder(needs("Qwen/Qwen3-Embedding-0.6B"), device="cpu", dtype="int8")
    scores = embedder.embed_queries(QUERIES) @ embedder.embed_documents(DOCUMENTS).T
    assert scores[0, 0] > scores[0, 1] and scores[1, 1] > scores[1, 0]
    np.testing.assert_allclose(scores, PUBLISHED, rtol=0, atol=5e-2)
    reranker = Reranker(needs("Qwen/Qwen3-Reranker-0.6B"), device="cpu", dtype="int8")
    relevant, unrelated = reranker.score(QUERIES[0], DOCUMENTS)
    assert relevant > unrelated
