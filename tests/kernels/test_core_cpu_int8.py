"""The opt-in int8 mode (dtype="int8"): the plain quantised arithmetic, closeness to fp32, sharing, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import VARIED_TEXTS

from qwen3_rag import Embedder, InvalidArgumentError, Reranker
from qwen3_rag.kernels import int8
from qwen3_rag.kernels.attention import in_bfloat16, sdpa_per_sequence
from qwen3_rag.kernels.packing import pack
from qwen3_rag.kernels.runtime import cpu_runs_bf16_natively, quantized_mode


def plain_int8_linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """The W8A8 recipe written out: symmetric codes per token and per output channel (found in float32,
    where a value at a rounding boundary must land as the kernel's does), then exact float64 sums."""
    x_scale = x.abs().amax(dim=1, keepdim=True) / 127
    w_scale = weight.abs().amax(dim=1, keepdim=True) / 127
    x_codes = torch.where(x_scale > 0, torch.round(x / x_scale), 0.0)  # an all-zero row stays zero
    w_codes = torch.round(weight / w_scale)
    out = (x_codes.double() @ w_codes.double().T) * x_scale.double() * w_scale.double().T
    return out if bias is None else out + bias.double()


@pytest.mark.parametrize("rows", [1, 7, 300])  # 300 crosses the chunk boundary of every shape below
@pytest.mark.parametrize("bias", [False, True])
def test_int8_linear_is_the_plain_recipe(rows, bias):
    generator = torch.Generator().manual_seed(rows)
    linear = torch.nn.Linear(96, 4000, bias=bias)
    with torch.no_grad():
        linear.weight.copy_(torch.randn(4000, 96, generator=generator))
    x = torch.randn(rows, 96, generator=generator) * torch.rand(rows, 1, generator=generator) * 10
    x[0, :5] = 0.0  # zero entries and (below) an all-zero row must not divide by zero
    if rows > 1:
        x[1] = 0.0
    with torch.inference_mode():
        got = int8.Int8Linear(linear)(x)
    expected = plain_int8_linear(x, linear.weight.detach(), linear.bias.detach() if bias else None)
    assert got.dtype == torch.float32 and got.shape == (rows, 4000)
    torch.testing.assert_close(got.double(), expected, rtol=1e-5, atol=1e-4)
    # and it is a quantisation: close to the fp32 product, not equal to it
    exact = linear(x).detach().double()
    relative = (got.double() - exact).norm() / exact.norm()
    assert 0 < relative < 2e-2


def test_int8_linear_keeps_leading_dimensions():
    linear = torch.nn.Linear(32, 48)
    x = torch.randn(2, 5, 32)
    with torch.inference_mode():
        out = int8.Int8Linear(linear)(x)
    assert out.shape == (2, 5, 48)
    torch.testing.assert_close(out[1], int8.Int8Linear(linear)(x[1]))


def test_int8_embeddings_stay_close_to_fp32_and_share_one_quantised_model(tiny_models, embedder):
    fast = Embedder(tiny_models.embedding, device="cpu", dtype="int8")
    assert fast.model is not embedder.model  # its own load key ...
    assert Embedder(tiny_models.embedding, device="cpu", dtype="INT8").model is fast.model  # ... shared
    assert fast.model.quantization == "int8" and fast.model.dtype == torch.float32
    assert "dtype=int8" in repr(fast)
    layer = fast.model.backbone.layers[0]
    assert isinstance(layer.self_attn.q_proj, int8.Int8Linear) and isinstance(layer.mlp.down_proj, int8.Int8Linear)
    assert layer.mlp.down_proj.weight_t.dtype == torch.int8
    assert embedder.model.backbone.layers[0].self_attn.q_proj.weight.dtype == torch.float32  # fp32 model untouched
    vectors, exact = fast.embed_documents(VARIED_TEXTS), embedder.embed_documents(VARIED_TEXTS)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-6)
    cosine = (vectors * exact).sum(axis=1)
    assert cosine.min() > 0.99 and cosine.max() < 1 - 1e-7  # close, and really quantised
    # a text's vector does not depend on its batch, in this mode too
    alone = np.vstack([fast.embed_documents([text]) for text in VARIED_TEXTS])
    np.testing.assert_allclose(alone, vectors, atol=1e-5)


def test_int8_reranker_keeps_the_order_of_clear_gaps(tiny_models, reranker):
    fast = Reranker(tiny_models.reranker, device="cpu", dtype="int8")
    query = "What is the capital of China?"
    logits, exact = fast.logits(query, VARIED_TEXTS), reranker.logits(query, VARIED_TEXTS)
    error = np.abs(logits - exact).max()
    assert 0 < error < 0.1
    for i in range(len(exact)):
        for j in range(len(exact)):
            if exact[i] - exact[j] > 2 * error:
                assert logits[i] > logits[j]


@pytest.mark.parametrize("last_only", [False, True])
def test_bfloat16_attention_is_sdpa_on_bfloat16_inputs(last_only):
    generator = torch.Generator().manual_seed(1)
    packed = pack([[0] * 5, [0] * 2, [0] * 7], torch.device("cpu"))

    def sample(rows: int, heads: int) -> torch.Tensor:
        return torch.randn(rows, heads, 32, generator=generator)

    queries = sample(3 if last_only else 14, 4)
    keys, values, head = sample(14, 2), sample(14, 2), (sample(3, 2), sample(3, 2))
    got = in_bfloat16(sdpa_per_sequence)(queries, keys, values, packed, 0.2, last_only=last_only, head=head)
    bf16_head = (head[0].bfloat16(), head[1].bfloat16())
    expected = sdpa_per_sequence(
        queries.bfloat16(), keys.bfloat16(), values.bfloat16(), packed, 0.2, last_only=last_only, head=bf16_head
    )
    assert got.dtype == torch.float32 and got.shape == queries.shape
    torch.testing.assert_close(got, expected.float(), rtol=0, atol=0)
    exact = sdpa_per_sequence(queries, keys, values, packed, 0.2, last_only=last_only, head=head)
    assert 0 < (got - exact).abs().max() < 0.1  # bfloat16, and close


def test_int8_attention_runs_in_bfloat16_where_the_cpu_has_its_units(tiny_models):
    fast = Reranker(tiny_models.reranker, device="cpu", dtype="int8")
    query = "What is the capital of China?"
    logits = fast.logits(query, VARIED_TEXTS)
    if not cpu_runs_bf16_natively():
        assert fast.model.attention_path == "packed-sdpa"
        return
    assert fast.model.attention_path == "packed-sdpa-bf16"
    assert "attention='packed-sdpa-bf16'" in repr(fast)
    shipped = fast.model.attend
    fast.model.attend = sdpa_per_sequence  # the same quantised model with fp32 attention
    try:
        fp32_attention = fast.logits(query, VARIED_TEXTS)
    finally:
        fast.model.attend = shipped
    assert 0 < np.abs(logits - fp32_attention).max() < 0.1


def test_int8_is_a_cpu_mode():
    assert quantized_mode("int8", torch.device("cpu")) == "int8"
    assert quantized_mode("float32", torch.device("cpu")) is None and quantized_mode(None, torch.device("cpu")) is None
    with pytest.raises(InvalidArgumentError, match=r"dtype='int8' is the CPU fast mode; on cuda use 'bfloat16'"):
        quantized_mode("int8", torch.device("cuda"))


def test_unknown_dtype_names_the_int8_mode(tiny_models):
    with pytest.raises(InvalidArgumentError, match=r"dtype='int4'.*'int8' \(CPU fast mode\)"):
        Embedder(tiny_models.embedding, device="cpu", dtype="int4")
