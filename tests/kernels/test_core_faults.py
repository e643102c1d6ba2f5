"""Faults injected into the real forward pass: out-of-memory splits and retries, NaN is refused.

The faults are hooked on the token embedding, which every forward path (packed or padded) calls.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import pytest
import torch
from conftest import CORPUS, QUESTION, VARIED_TEXTS

from qwen3_rag import Embedder, NonFiniteOutputError, Reranker
from qwen3_rag.tokenization import embedding_tokens


@contextmanager
def hook(module: torch.nn.Module, *, pre=None, post=None):
    handle = (
        module.register_forward_pre_hook(pre, with_kwargs=True)
        if pre
        else module.register_forward_hook(post, with_kwargs=True)
    )
    try:
        yield
    finally:
        handle.remove()


def out_of_memory_above(tokens: int, error: type[BaseException] = torch.OutOfMemoryError):
    """A fault for any forward pass over more than `tokens` token ids (padding included)."""

    def pre(module, args, kwargs):
        if args[0].numel() > tokens:
            raise error(f"injected: {args[0].numel()} tokens do not fit")

    return pre


def test_embedding_batches_split_on_out_of_memory(tiny_models, embedder):
    wide = Embedder(tiny_models.embedding, device="cpu", batch_tokens=100_000)
    clean = wide.embed_documents(VARIED_TEXTS)
    longest = max(len(ids) for ids in embedding_tokens(wide.model.tokenizer, VARIED_TEXTS, wide.max_length).ids)
    with (
        hook(wide.model.backbone.embed_tokens, pre=out_of_memory_above(longest)),
        pytest.warns(UserWarning, match="out of device memory on a batch of 10"),
    ):
        faulted = wide.embed_documents(VARIED_TEXTS)
    np.testing.assert_allclose(faulted, clean, atol=1e-6, rtol=0)


def test_rerank_batches_split_on_out_of_memory(tiny_models):
    wide = Reranker(tiny_models.reranker, device="cpu", batch_tokens=100_000)
    clean = wide.logits(QUESTION, CORPUS)
    tokens = wide.prompt.tokens(wide.instruction, QUESTION, CORPUS)
    longest = max(len(ids) for ids in [tokens.head, *tokens.tails])
    with hook(wide.model.backbone.embed_tokens, pre=out_of_memory_above(longest)), pytest.warns(UserWarning):
        faulted = wide.logits(QUESTION, CORPUS)
    np.testing.assert_allclose(faulted, clean, atol=1e-5, rtol=0)


def test_single_item_out_of_memory_and_other_errors_propagate(embedder):
    with hook(embedder.model.backbone.embed_tokens, pre=out_of_memory_above(0)), pytest.raises(torch.OutOfMemoryError):
        embedder.embed_documents(["x"])
    with (
        hook(embedder.model.backbone.embed_tokens, pre=out_of_memory_above(1, RuntimeError)),
        pytest.raises(RuntimeError),
    ):
        embedder.embed_documents(["a", "b"])


def poison(module, args, kwargs, output):
    return torch.full_like(output, float("nan"))


def test_nan_output_is_an_error_naming_the_fix(embedder, reranker):
    with (
        hook(embedder.model.backbone.embed_tokens, post=poison),
        pytest.raises(NonFiniteOutputError, match="float32.*dtype='bfloat16'.*'float32'"),
    ):
        embedder.embed_queries([QUESTION])
    with (
        hook(reranker.model.backbone.embed_tokens, post=poison),
        pytest.raises(NonFiniteOutputError, match="reranker logits"),
    ):
        reranker.score(QUESTION, CORPUS)
