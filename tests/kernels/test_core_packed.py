"""The packed (padding-free) forward pass and its attention paths, against transformers' own forward.

The parity tests compare the Embedder and Reranker with the official algorithm end to end; these
tests pin the pieces: every weight used in the right place (norm weights and biases randomised,
so a swapped or missing one shows), rotary scaling taken from the model, a cached head, the
last-layer shortcut, the varlen argument layout, and the path choice.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import CORPUS, QUESTION, VARIED_TEXTS
from tiny_qwen3 import tiny_config
from transformers import Qwen3Model

from qwen3_rag import Embedder, Reranker
from qwen3_rag.batching import plan_batches
from qwen3_rag.kernels import attention, embed_batch, loading, score_batches
from qwen3_rag.kernels.forward import encode_head, last_hidden_states, unsupported
from qwen3_rag.kernels.loading import LoadedModel
from qwen3_rag.kernels.packing import pack
from qwen3_rag.tokenization import embedding_tokens

LENGTHS = [1, 2, 7, 40, 3, 65]


def random_backbone(seed: int = 0, **overrides) -> torch.nn.Module:
    """A tiny Qwen3 with every parameter random, norm weights and biases included."""
    torch.manual_seed(seed)
    model = Qwen3Model(tiny_config(**overrides)).eval()
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.endswith("norm.weight"):
                parameter.copy_(1 + 0.3 * torch.randn_like(parameter))
            elif name.endswith("bias"):
                parameter.normal_(0, 0.1)
    return model


def sequences(lengths: list[int], seed: int = 1) -> list[list[int]]:
    generator = torch.Generator().manual_seed(seed)
    return [torch.randint(0, 151000, (n,), generator=generator).tolist() for n in lengths]


@torch.no_grad()
def transformers_last(backbone: torch.nn.Module, ids: list[int]) -> torch.Tensor:
    """transformers' forward pass of one sequence alone, at its last token."""
    return backbone(input_ids=torch.tensor([ids])).last_hidden_state[0, -1]


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"attention_bias": True},
        {"rope_scaling": {"rope_type": "linear", "factor": 4.0}},
        {"num_hidden_layers": 1},  # the first layer is also the last-token-only one
        {"num_key_value_heads": 4},  # no grouping
    ],
    ids=["plain", "bias", "linear-rope", "one-layer", "no-gqa"],
)
def test_packed_forward_equals_transformers_per_sequence(overrides):
    backbone = random_backbone(**overrides)
    batch = sequences(LENGTHS)
    got = last_hidden_states(backbone, pack(batch, torch.device("cpu")), attention.sdpa_per_sequence)
    expected = torch.stack([transformers_last(backbone, ids) for ids in batch])
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)


def test_packed_forward_after_a_cached_head_equals_the_joined_sequence():
    backbone = random_backbone(attention_bias=True)
    head, *tails = sequences([11, *LENGTHS], seed=2)
    cache = encode_head(backbone, head, attention.sdpa_per_sequence)
    assert cache.length == len(head) and len(cache.keys) == backbone.config.num_hidden_layers
    got = last_hidden_states(
        backbone, pack(tails, torch.device("cpu"), offset=len(head)), attention.sdpa_per_sequence, cache
    )
    expected = torch.stack([transformers_last(backbone, head + tail) for tail in tails])
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)


def test_packed_results_do_not_depend_on_batch_companions():
    backbone = random_backbone()
    batch = sequences(LENGTHS)
    together = last_hidden_states(backbone, pack(batch, torch.device("cpu")), attention.sdpa_per_sequence)
    for i, ids in enumerate(batch):
        alone = last_hidden_states(backbone, pack([ids], torch.device("cpu")), attention.sdpa_per_sequence)
        torch.testing.assert_close(together[i], alone[0], atol=1e-5, rtol=0)


def spans(cu_q: torch.Tensor, cu_k: torch.Tensor) -> list[tuple[int, int, int, int]]:
    """(query start, query end, key start, key end) of each sequence."""
    q, k = cu_q.tolist(), cu_k.tolist()
    return [(q[i], q[i + 1], k[i], k[i + 1]) for i in range(len(q) - 1)]


def reference_varlen(q, k, v, cu_q, cu_k, max_q, max_k, scale):
    """FlashAttention-2's documented varlen semantics, written plainly: per sequence, grouped heads,
    causal mask aligned to the bottom-right corner (the last query sees every key)."""
    out = []
    for qs, qe, ks, ke in spans(cu_q, cu_k):
        qi, ki, vi = q[qs:qe], k[ks:ke], v[ks:ke]
        group = qi.shape[1] // ki.shape[1]
        ki, vi = ki.repeat_interleave(group, dim=1), vi.repeat_interleave(group, dim=1)
        scores = torch.einsum("qhd,khd->hqk", qi, ki) * scale
        allowed = torch.ones(qe - qs, ke - ks, dtype=torch.bool).tril((ke - ks) - (qe - qs))
        out.append(torch.einsum("hqk,khd->qhd", scores.masked_fill(~allowed, float("-inf")).softmax(-1), vi))
    return torch.cat(out)


def top_left_varlen(q, k, v, cu_q, cu_k, max_q, max_k, scale):
    """The older alignment (FlashAttention < 2.1): wrong for a cached head and for last-only queries."""
    out = []
    for qs, qe, ks, ke in spans(cu_q, cu_k):
        group = q.shape[1] // k.shape[1]
        mixed = F.scaled_dot_product_attention(
            q[qs:qe].transpose(0, 1),
            k[ks:ke].repeat_interleave(group, 1).transpose(0, 1),
            v[ks:ke].repeat_interleave(group, 1).transpose(0, 1),
            is_causal=True,
            scale=scale,
        )
        out.append(mixed.transpose(0, 1))
    return torch.cat(out)


@pytest.mark.parametrize("last_only", [False, True])
@pytest.mark.parametrize("with_head", [False, True])
def test_varlen_layout_matches_sdpa_per_sequence(last_only, with_head):
    generator = torch.Generator().manual_seed(3)
    packed = pack(sequences(LENGTHS), torch.device("cpu"))
    tokens = packed.starts[-1]
    queries = torch.randn(packed.count if last_only else tokens, 4, 16, generator=generator)
    keys, values = torch.randn(tokens, 2, 16, generator=generator), torch.randn(tokens, 2, 16, generator=generator)
    head = None
    if with_head:
        head = (torch.randn(5, 2, 16, generator=generator), torch.randn(5, 2, 16, generator=generator))
    expected = attention.sdpa_per_sequence(queries, keys, values, packed, 0.25, last_only=last_only, head=head)
    got = attention.varlen(reference_varlen)(queries, keys, values, packed, 0.25, last_only=last_only, head=head)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)


def test_varlen_kernel_is_used_only_if_it_agrees_with_sdpa():
    cpu = torch.device("cpu")
    assert attention.agrees_with_sdpa(reference_varlen, cpu, torch.float32)
    with pytest.warns(UserWarning, match="disagrees with PyTorch SDPA"):
        assert not attention.agrees_with_sdpa(top_left_varlen, cpu, torch.float32)
    # PyTorch's own varlen kernel exists in this torch, but only for CUDA: here it fails the check.
    torch_varlen = attention._torch_varlen_kernel()
    assert torch_varlen is not None
    with pytest.warns(UserWarning, match="failed its check"):
        assert not attention.agrees_with_sdpa(torch_varlen, cpu, torch.float32)


def test_path_choice_and_report(embedder, reranker):
    assert embedder.model.attention_path == reranker.model.attention_path == "packed-sdpa"
    assert embedder.model.packs_batches
    assert unsupported(tiny_config(hidden_act="gelu")) == "hidden_act='gelu'"
    sliding = tiny_config(use_sliding_window=True, sliding_window=16, max_window_layers=0)
    assert unsupported(sliding) == "sliding-window attention layers"
    assert attention.choose(torch.device("cpu"), torch.float32, unsupported(sliding)) == ("padded-sdpa", None)
    # FlashAttention-2 has no float32 kernels: a float32 CUDA model keeps the padded path, without trying one.
    assert attention.choose(torch.device("cuda"), torch.float32, None) == ("padded-sdpa", None)
    assert "packed-sdpa" in repr(embedder) and "packed-sdpa" in repr(reranker)


def padded_twin(model: LoadedModel) -> LoadedModel:
    """The same checkpoint loaded by transformers, on the padded path that CUDA without varlen kernels runs."""
    twin = loading._load_with_transformers(model.key, model.device, model.dtype, False, {}, ("padded-sdpa", None))
    assert twin.loader == "transformers" and model.loader == "direct"
    return twin


def test_padded_path_gives_the_packed_results(embedder, reranker):
    ids = embedding_tokens(embedder.model.tokenizer, VARIED_TEXTS, embedder.max_length).ids
    packed_vectors = embed_batch(embedder.model, ids, embedder.dim)
    padded_vectors = embed_batch(padded_twin(embedder.model), ids, embedder.dim)
    np.testing.assert_allclose(padded_vectors, packed_vectors, atol=1e-6, rtol=0)

    tokens = reranker.prompt.tokens(reranker.instruction, QUESTION, CORPUS)
    batches = [[0, 3, 5], [1, 2, 4, 6, 7]]
    packed_logits = score_batches(reranker.model, tokens.head, tokens.tails, batches)
    padded_logits = score_batches(padded_twin(reranker.model), tokens.head, tokens.tails, batches)
    np.testing.assert_allclose(padded_logits, packed_logits, atol=1e-5, rtol=0)


def test_packed_budget_counts_real_tokens():
    lengths = [30, 5, 5, 5, 20, 1]
    batches = plan_batches(lengths, token_budget=40, padded=False)
    assert sorted(i for batch in batches for i in batch) == list(range(len(lengths)))
    assert all(sum(lengths[i] for i in batch) <= 40 for batch in batches)
    assert batches == [[0], [4, 1, 2, 3, 5]]  # padded, [4, 1, 2] would already cost 60
    assert plan_batches(lengths, token_budget=40) == [[0], [4, 1], [2, 3, 5]]


def test_small_budget_packed_embeddings_equal_one_pass(tiny_models):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        one_pass = Embedder(tiny_models.embedding, device="cpu", batch_tokens=100_000).embed_documents(VARIED_TEXTS)
        many = Embedder(tiny_models.embedding, device="cpu", batch_tokens=8).embed_documents(VARIED_TEXTS)
        logits = Reranker(tiny_models.reranker, device="cpu", batch_tokens=8).logits(QUESTION, CORPUS)
    np.testing.assert_allclose(many, one_pass, atol=1e-6, rtol=0)
    np.testing.assert_allclose(
        Reranker(tiny_models.reranker, device="cpu").logits(QUESTION, CORPUS), logits, atol=1e-5, rtol=0
    )
