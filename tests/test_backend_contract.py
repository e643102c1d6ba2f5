"""The seam between the facades and the model runners: what an index and Ray's driver need from a
checkpoint is read without torch, and equals what the loaded model reports."""

from __future__ import annotations

import json
import subprocess
import sys

from qwen3_rag.local_index.builder import index_settings
from qwen3_rag.vector_settings import VectorSettings


def test_the_remote_client_and_the_index_settings_need_no_torch(tiny_models, embedder):
    probe = (
        "import json, sys\n"
        "import qwen3_rag\n"
        "qwen3_rag.RemoteEmbedder, qwen3_rag.RemoteReranker\n"
        "from qwen3_rag.vector_settings import VectorSettings\n"
        "from qwen3_rag.settings import EmbedderSettings\n"
        "from qwen3_rag.checkpoint.tokenizer import read_tokenizer\n"
        "import qwen3_rag.local_index.builder, qwen3_rag.cli.common\n"
        f"settings = VectorSettings.from_settings(EmbedderSettings(model={tiny_models.embedding!r}, dim=48))\n"
        f"tokenizer, _ = read_tokenizer('embedding', {tiny_models.embedding!r})\n"
        "print(json.dumps({'torch': 'torch' in sys.modules, 'settings': settings.record(),\n"
        "                  'ids': tokenizer.encode('Ünïcödé text <|endoftext|>').ids}))\n"
    )
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    answer = json.loads(run.stdout)
    assert answer["torch"] is False
    from qwen3_rag import Embedder

    assert answer["settings"] == VectorSettings.of(Embedder(tiny_models.embedding, device="cpu", dim=48)).record()
    assert answer["ids"] == embedder.tokenizer.encode("Ünïcödé text <|endoftext|>").ids


def test_settings_without_weights_equal_the_loaded_embedders(tiny_models):
    from qwen3_rag import Embedder
    from qwen3_rag.settings import EmbedderSettings

    for settings in (
        {},
        {"dim": 32, "instruction": "semantic_similarity", "max_length": 100},
        {"instruction": "Find the code", "symmetric": True},
    ):
        loaded = Embedder(tiny_models.embedding, device="cpu", **settings)
        described = VectorSettings.from_settings(EmbedderSettings(model=tiny_models.embedding, **settings))
        assert described == VectorSettings.of(loaded)
        assert index_settings(described, 32, 8, "text") == index_settings(loaded, 32, 8, "text")


def test_each_model_class_only_says_how_to_open_its_backend():
    """Issue 37: a model object is (settings, backend); what the settings mean is resolved once in the shared
    halves (`ResolvedEmbedding`, `ResolvedReranking`), so the four classes hold no start hook or derivation."""
    from qwen3_rag import Embedder, RemoteEmbedder, RemoteReranker, Reranker

    allowed = {"__init__", "open_backend", "__repr__", "hidden_size"}
    for model_class in (Embedder, Reranker, RemoteEmbedder, RemoteReranker):
        behaviour = {
            name
            for name, value in vars(model_class).items()
            if (callable(value) and not isinstance(value, type))
            or isinstance(value, staticmethod | classmethod | property)
        }
        assert behaviour <= allowed, (model_class.__name__, behaviour - allowed)
        assert "open_backend" in behaviour, model_class.__name__
