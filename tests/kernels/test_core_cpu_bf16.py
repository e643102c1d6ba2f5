"""The opt-in CPU fast mode (dtype="bfloat16"): close to fp32, and a warning where the CPU would emulate it."""

from __future__ import annotations

import warnings

import numpy as np
import torch
from conftest import VARIED_TEXTS

from qwen3_rag import Embedder, Reranker
from qwen3_rag.kernels.runtime import cpu_runs_bf16_natively


def test_bf16_embeddings_stay_close_to_fp32(tiny_models, embedder):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fast = Embedder(tiny_models.embedding, device="cpu", dtype="bfloat16")
    emulated = [w for w in caught if "bfloat16 matrix units" in str(w.message)]
    assert len(emulated) == (0 if cpu_runs_bf16_natively() else 1)
    assert fast.model.dtype == torch.bfloat16 and fast.model is not embedder.model
    vectors, exact = fast.embed_documents(VARIED_TEXTS), embedder.embed_documents(VARIED_TEXTS)
    assert vectors.dtype == np.float32  # pooling and normalisation stay in fp32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-6)
    assert np.abs(vectors - exact).max() < 2e-2
    assert (vectors * exact).sum(axis=1).min() > 0.999  # cosine to the fp32 vector


def test_bf16_reranker_keeps_the_order_of_clear_gaps(tiny_models, reranker):
    fast = Reranker(tiny_models.reranker, device="cpu", dtype="bfloat16")
    query = "What is the capital of China?"
    logits, exact = fast.logits(query, VARIED_TEXTS), reranker.logits(query, VARIED_TEXTS)
    assert np.abs(logits - exact).max() < 0.05
    # Pairs whose fp32 logits differ by more than twice the bf16 error keep their order.
    error = np.abs(logits - exact).max()
    for i in range(len(exact)):
        for j in range(len(exact)):
            if exact[i] - exact[j] > 2 * error:
                assert logits[i] > logits[j]


# /proc/cpuinfo lines (flags shortened) of the two kinds of Xeon this project's machines come as, and an Arm one.
SAPPHIRE_RAPIDS = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_vnni avx512_bf16 amx_bf16 amx_tile\n"
ICE_LAKE = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512bw avx512vl avx512_vnni avx512_vbmi2\n"
GRAVITON3 = "processor\t: 0\nFeatures\t: fp asimd evtstrm aes sve bf16 i8mm\n"


def test_bf16_units_are_read_from_the_cpu_flags_not_from_onednn():
    from qwen3_rag.kernels.runtime import cpu_flags

    assert cpu_runs_bf16_natively(SAPPHIRE_RAPIDS) and cpu_runs_bf16_natively(GRAVITON3)
    # AVX512 without BF16 or AMX: oneDNN calls bf16 "supported" there, and emulates it about 3x slower.
    assert not cpu_runs_bf16_natively(ICE_LAKE) and "avx512_vnni" in cpu_flags(ICE_LAKE)
    assert not cpu_runs_bf16_natively("")  # cannot tell: warn rather than promise speed


def test_this_cpus_answer_follows_its_flags():
    with open("/proc/cpuinfo", encoding="utf-8") as info:
        flags = info.read()
    assert cpu_runs_bf16_natively() == any(f in flags.split() for f in ("avx512_bf16", "amx_bf16", "bf16"))
