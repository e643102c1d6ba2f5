"""Loading straight from a checkpoint's files (`checkpoint/contents.py`, `kernels/weights.py`) equals transformers.

The direct loader is the default wherever the packed pass runs; each test here compares it with
transformers' own loading of the same files, tensor for tensor and id for id, or checks that a
checkpoint it does not fully recognise goes to transformers instead.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import CORPUS, QUESTION, VARIED_TEXTS
from qwen3_reference import official_embeddings, official_log_odds
from safetensors.torch import load_file, save_file
from tiny_qwen3 import HOSTILE, tiny_config, write_qwen2_style_tokenizer
from transformers import AutoTokenizer, Qwen3ForCausalLM

from qwen3_rag import DEFAULT_INSTRUCTION, Embedder, InvalidArgumentError, ModelLoadError, Reranker
from qwen3_rag.kernels import loading
from qwen3_rag.kernels.loading import LoadedModel, load_model
from qwen3_rag.tokenization import encode, encode_template

TEXTS = [*VARIED_TEXTS, *HOSTILE]


def through_transformers(model: LoadedModel) -> LoadedModel:
    return loading._load_with_transformers(
        model.key, model.device, model.dtype, False, {}, (model.attention_path, model.attend)
    )


def assert_same_model(direct: LoadedModel, reference: LoadedModel) -> None:
    assert (direct.loader, reference.loader) == ("direct", "transformers")
    assert not any(parameter.requires_grad for parameter in direct.backbone.parameters())
    theirs = reference.backbone.state_dict()
    ours = direct.backbone.state_dict()
    assert set(ours) == set(theirs)
    for name, tensor in ours.items():
        assert tensor.dtype == theirs[name].dtype and torch.equal(tensor, theirs[name]), name
    positions = torch.arange(0, 40_000, 7)[None]
    probe = torch.zeros(1, dtype=direct.dtype)
    for got, expected in zip(
        direct.backbone.rotary_emb(probe, positions), reference.backbone.rotary_emb(probe, positions), strict=True
    ):
        assert torch.equal(got, expected)
    if reference.yes_minus_no is not None:
        assert direct.yes_minus_no is not None and torch.equal(direct.yes_minus_no, reference.yes_minus_no)
    for template in ("<|im_start|>system\nJudge<|im_end|>\n", "<think>\n\n</think>\n\n"):
        assert encode_template(direct.tokenizer, template) == encode_template(reference.tokenizer, template)
    assert encode(direct.tokenizer, TEXTS) == encode(reference.tokenizer, TEXTS)


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_direct_load_equals_transformers_load(tiny_models, dtype):
    for kind, source in (("embedding", tiny_models.embedding), ("reranker", tiny_models.reranker)):
        model = load_model(kind, source, device="cpu", dtype=dtype)
        assert_same_model(model, through_transformers(model))


@pytest.fixture(scope="module")
def hub_layout(tiny_models, tmp_path_factory) -> Path:
    """The tiny embedding model with its tokenizer files in the hub checkpoints' layout."""
    checkpoint = tmp_path_factory.mktemp("hub") / "hub-layout"
    shutil.copytree(tiny_models.embedding, checkpoint)
    for path in checkpoint.glob("tokenizer*"):
        path.unlink()
    return write_qwen2_style_tokenizer(checkpoint)


def test_hub_layout_tokenizer_is_read_directly_with_the_official_ids(hub_layout):
    """tokenizer_class Qwen2Tokenizer, as on the hub: transformers rebuilds it, and the file must agree."""
    checkpoint = hub_layout
    embedder = Embedder(str(checkpoint), device="cpu")
    assert embedder.model.loader == "direct" and "loader='direct'" in repr(embedder)
    official = AutoTokenizer.from_pretrained(checkpoint)
    assert encode(embedder.model.tokenizer, TEXTS) == [
        official(t, add_special_tokens=False)["input_ids"] for t in VARIED_TEXTS
    ] + encode(official.backend_tokenizer, HOSTILE)
    np.testing.assert_allclose(
        embedder.embed_documents(VARIED_TEXTS), official_embeddings(checkpoint, VARIED_TEXTS), atol=1e-5, rtol=0
    )
    assert_same_model(embedder.model, through_transformers(embedder.model))


def edited(
    source: str, target: Path, config: dict | None = None, tokenizer_config: dict | None = None, tokenizer_json=None
) -> str:
    shutil.copytree(source, target)
    for name, changes in (("config.json", config), ("tokenizer_config.json", tokenizer_config)):
        if changes is not None:
            data = json.loads((target / name).read_text())
            data.update(changes)
            (target / name).write_text(json.dumps({k: v for k, v in data.items() if v != "<drop>"}))
    if tokenizer_json is not None:
        data = json.loads((target / "tokenizer.json").read_text())
        tokenizer_json(data)
        (target / "tokenizer.json").write_text(json.dumps(data))
    return str(target)


def drop_added_token_list(data: dict) -> None:
    data["added_tokens"] = data["added_tokens"][:3]


def other_split(data: dict) -> None:
    data["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = r"\s+|\S+"


@pytest.mark.parametrize(
    "case",
    [
        "rope scaling",
        "no rms_norm_eps",
        "sliding window",
        "quantised",
        "slow tokenizer",
        "other split",
        "added tokens differ",
    ],
)
def test_checkpoints_it_does_not_recognise_go_to_transformers(tiny_models, hub_layout, tmp_path, case):
    target = tmp_path / "edited"
    if case in ("other split", "added tokens differ"):
        source = edited(
            str(hub_layout), target, tokenizer_json=other_split if case == "other split" else drop_added_token_list
        )
    else:
        changes = {
            "rope scaling": {"rope_parameters": {"rope_type": "linear", "factor": 2.0, "rope_theta": 1e6}},
            "no rms_norm_eps": {"rms_norm_eps": "<drop>"},  # a default of transformers' is never assumed here
            "sliding window": {
                "use_sliding_window": True,
                "sliding_window": 4,
                "max_window_layers": 0,
                "layer_types": "<drop>",
            },
            "quantised": {"quantization_config": {"quant_method": "made-up"}},
            "slow tokenizer": None,
        }[case]
        if case == "slow tokenizer":
            source = edited(tiny_models.embedding, target, tokenizer_config={"tokenizer_class": "Qwen2TokenizerSlow"})
        else:
            source = edited(tiny_models.embedding, target, config=changes)
    embedder = Embedder(source, device="cpu")
    assert embedder.model.loader == "transformers"
    if case == "slow tokenizer":
        return  # transformers' own reading of the class name decides the tokenizer
    np.testing.assert_allclose(
        embedder.embed_documents(VARIED_TEXTS), official_embeddings(source, VARIED_TEXTS), atol=1e-5, rtol=0
    )


def test_sharded_and_prefixed_checkpoints(tiny_models, tmp_path):
    sharded = tmp_path / "sharded"
    shutil.copytree(tiny_models.reranker, sharded)
    weights = load_file(str(sharded / "model.safetensors"))
    (sharded / "model.safetensors").unlink()
    names = sorted(weights)
    halves = {"model-00001-of-00002.safetensors": names[::2], "model-00002-of-00002.safetensors": names[1::2]}
    for file, part in halves.items():
        save_file({name: weights[name] for name in part}, str(sharded / file), metadata={"format": "pt"})
    index = {"metadata": {}, "weight_map": {name: file for file, part in halves.items() for name in part}}
    (sharded / "model.safetensors.index.json").write_text(json.dumps(index))
    reranker = Reranker(str(sharded), device="cpu")
    assert reranker.model.loader == "direct"
    np.testing.assert_allclose(
        reranker.logits(QUESTION, CORPUS),
        official_log_odds(str(sharded), DEFAULT_INSTRUCTION, QUESTION, CORPUS),
        atol=1e-5,
        rtol=0,
    )
    # The reranker checkpoint's names carry "model." and an LM head; read as an embedding model, both are handled.
    # (A sentence-transformers pooling module makes it an embedding checkpoint saved from a causal LM, whose
    # role its files leave open; without one, it is refused as the reranker it is: test_core_errors.py.)
    (sharded / "modules.json").write_text(json.dumps([{"type": "sentence_transformers.models.Pooling"}]))
    as_embedding = load_model("embedding", str(sharded), device="cpu")
    assert_same_model(as_embedding, through_transformers(as_embedding))

    index["weight_map"][names[0]] = "../outside.safetensors"  # a name read from disk points out of the checkpoint
    (sharded / "model.safetensors.index.json").write_text(json.dumps(index))
    with pytest.raises(ModelLoadError, match="names a weight file outside the checkpoint"):
        Reranker(str(sharded), device="cpu", dtype="bfloat16")


def test_tied_reranker_head_comes_from_the_embeddings(tiny_models, tmp_path):
    tied = tmp_path / "tied"
    torch.manual_seed(3)
    Qwen3ForCausalLM(tiny_config(tie_word_embeddings=True)).save_pretrained(tied)
    for path in Path(tiny_models.reranker).glob("tokenizer*"):
        shutil.copy(path, tied)
    model = load_model("reranker", str(tied), device="cpu")
    assert_same_model(model, through_transformers(model))
    reranker = Reranker(str(tied), device="cpu")
    np.testing.assert_allclose(
        reranker.logits(QUESTION, CORPUS),
        official_log_odds(str(tied), DEFAULT_INSTRUCTION, QUESTION, CORPUS),
        atol=1e-5,
        rtol=0,
    )


def test_weights_that_do_not_fit_the_config_are_clear_errors(tiny_models, tmp_path):
    missing = tmp_path / "missing"
    shutil.copytree(tiny_models.embedding, missing)
    weights = load_file(str(missing / "model.safetensors"))
    del weights["layers.1.mlp.up_proj.weight"]
    save_file(weights, str(missing / "model.safetensors"), metadata={"format": "pt"})
    with pytest.raises(ModelLoadError, match=r"weights do not match a Qwen3 embedding model .*up_proj"):
        Embedder(str(missing), device="cpu")

    untied = tmp_path / "untied-without-head"
    shutil.copytree(tiny_models.embedding, untied)  # a base model's weights: no LM head
    config = json.loads((untied / "config.json").read_text())
    # Labelled a causal LM, so that its role is open and loading it as a reranker gets as far as the head.
    mislabelled = {**config, "tie_word_embeddings": False, "architectures": ["Qwen3ForCausalLM"]}
    (untied / "config.json").write_text(json.dumps(mislabelled))
    with pytest.raises(ModelLoadError, match=r"no output layer \(lm_head.weight\)"):
        Reranker(str(untied), device="cpu")

    for lie in ({"num_hidden_layers": 10**9}, {"head_dim": 2**40}):  # would build a billion layers, a 4 TiB table
        liar = tmp_path / f"liar-{next(iter(lie))}"
        shutil.copytree(tiny_models.embedding, liar)
        config = json.loads((liar / "config.json").read_text())
        (liar / "config.json").write_text(json.dumps({**config, **lie}))
        wrong = r"the weights hold 2 layers where config.json says 1000000000|layers.0.self_attn.q_norm"
        with pytest.raises(ModelLoadError, match=rf"its config.json does not describe its weights \(({wrong})"):
            Embedder(str(liar), device="cpu")

    damaged = tmp_path / "damaged"
    shutil.copytree(tiny_models.embedding, damaged)
    (damaged / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    with pytest.raises(ModelLoadError, match="could not load embedding model"):
        Embedder(str(damaged), device="cpu")


@pytest.mark.parametrize(
    ("lie", "why"),
    [
        ({"num_hidden_layers": 10**9, "layer_types": "<drop>"}, "its config.json does not describe its weights ("),
        ({"intermediate_size": 2**40}, "its config.json does not describe its weights ("),
        (
            {"num_hidden_layers": 10**9},
            "its config.json does not describe its weights (",
        ),  # before transformers' checks
        ({"layer_types": ["full_attention"]}, "Class validation error"),  # 1 type for 2 layers: transformers' raw error
    ],
)
def test_a_lying_config_is_refused_before_transformers_builds_it(tiny_models, tmp_path, lie, why):
    """The fallback path gets the same check: transformers would build (and fill memory with) the lie first.

    Run under a 6 GiB address-space limit, so that a regression fails here instead of taking the machine."""
    liar = edited(tiny_models.embedding, tmp_path / "liar", config=lie)
    probe = (
        "import resource, sys\n"
        "resource.setrlimit(resource.RLIMIT_AS, (6 << 30, 6 << 30))\n"
        "from qwen3_rag import Embedder, ModelLoadError\n"
        "try:\n"
        f"    Embedder({liar!r}, device='cpu')\n"
        "except ModelLoadError as error:\n"
        "    print(error)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "QWEN3_RAG_LOADER": "transformers"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith(f"could not load embedding model {liar!r}: {why}")


def test_the_environment_can_turn_the_direct_loader_off(tiny_models, monkeypatch):
    monkeypatch.setenv("QWEN3_RAG_LOADER", "transformers")
    model = load_model("embedding", tiny_models.embedding, device="cpu", dtype="bfloat16")
    assert model.loader == "transformers"
    monkeypatch.setenv("QWEN3_RAG_LOADER", "fast")
    with pytest.raises(InvalidArgumentError, match=r"\$QWEN3_RAG_LOADER='fast' is not a loader; use 'auto'"):
        load_model("reranker", tiny_models.reranker, device="cpu", dtype="bfloat16")


def test_loading_writes_no_progress_bar_into_a_log(tiny_models, tmp_path):
    """Off a terminal, the 'Loading weights' bar would leave carriage returns and no newline in the log."""
    import subprocess
    import sys

    log = tmp_path / "stderr.log"
    script = f"from qwen3_rag import Embedder; Embedder({tiny_models.embedding!r}, device='cpu')"
    with open(log, "wb") as stderr:
        subprocess.run([sys.executable, "-c", script], stderr=stderr, check=True)
    text = log.read_text()
    assert "Loading weights" not in text and "\r" not in text
