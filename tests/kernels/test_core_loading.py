"""Loading: one copy of the weights per (model, revision, device, dtype), released when unused."""

from __future__ import annotations

import gc
import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from qwen3_rag import Embedder, ModelLoadError, Reranker
from qwen3_rag.kernels import load_model


def test_same_settings_share_one_model(tiny_models, embedder):
    other = Embedder(tiny_models.embedding, device="cpu", dim=32, instruction="question_answering")
    assert other.model is embedder.model
    assert other.model.backbone.embed_tokens.weight.data_ptr() == embedder.model.backbone.embed_tokens.weight.data_ptr()


def test_dtype_or_kind_makes_a_separate_copy(tiny_models, embedder):
    bf16 = Embedder(tiny_models.embedding, device="cpu", dtype="bfloat16")
    assert bf16.model is not embedder.model and bf16.model.dtype == torch.bfloat16
    assert embedder.model.dtype == torch.float32  # CPU default


def test_model_is_released_when_nobody_holds_it(tiny_models):
    first = Reranker(tiny_models.reranker, device="cpu", dtype="bfloat16")
    key = first.model.key
    del first
    gc.collect()
    reloaded = load_model("reranker", tiny_models.reranker, device="cpu", dtype="bfloat16")
    assert reloaded.key == key  # loads again without error after the first copy was freed


def test_reranker_keeps_only_the_yes_no_direction(reranker):
    direction = reranker.model.yes_minus_no
    assert direction.shape == (64,) and direction.dtype == torch.float32
    assert not hasattr(reranker.model.backbone, "lm_head")  # the vocabulary head is not kept


def test_repr_names_model_and_device(embedder, reranker):
    assert "device='cpu'" in repr(embedder) and "dim=64" in repr(embedder)
    assert "Reranker(model=" in repr(reranker)


def test_pickle_only_checkpoint_needs_an_explicit_opt_in(tiny_models, tmp_path, embedder):
    pickled = tmp_path / "pickled"
    shutil.copytree(tiny_models.embedding, pickled)
    torch.save(load_file(str(pickled / "model.safetensors")), pickled / "pytorch_model.bin")
    (pickled / "model.safetensors").unlink()
    with pytest.raises(ModelLoadError, match=r"only pickle weights.*allow_pickle=True"):
        Embedder(str(pickled), device="cpu")
    trusted = Embedder(str(pickled), device="cpu", allow_pickle=True)
    # Same weights; two loads' tensors sit at different addresses, and on some CPUs (seen on an AMD EPYC)
    # the GEMM then takes another vector path, so bit-equality is too strict: float32 rounding is allowed.
    np.testing.assert_allclose(
        trusted.embed_documents(["same weights"]), embedder.embed_documents(["same weights"]), rtol=0, atol=1e-6
    )
