"""The hub, reached within a bounded time or not at all: real sockets on loopback, a real hub cache layout.

Each hub failure runs the CLI in a subprocess, because huggingface_hub reads HF_ENDPOINT and
HF_HOME when it is imported.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from qwen3_rag import Embedder, InvalidArgumentError, ModelLoadError

HUB_ID = "qwen3-rag-tests/tiny-embedding"


def run_embed(model: str, env: dict[str, str], *extra: str) -> tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "qwen3_rag", "embed", "--embedding-model", model, *extra],
        input="hello\n",
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, **env},
    )
    return result, time.monotonic() - started


@pytest.fixture
def silent_hub():
    """A server that accepts connections and never answers: the worst hub there is."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join()
    for connection in accepted:
        connection.close()
    listener.close()


def closed_port() -> str:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # nothing listens there any more: connection refused


def hub_cache_with(model_dir: Path, cache: Path, repo_id: str) -> None:
    """Lay a checkpoint out as huggingface_hub's cache does after a download of `repo_id`."""
    repo = cache / "hub" / f"models--{repo_id.replace('/', '--')}"
    commit = "0123456789abcdef0123456789abcdef01234567"
    shutil.copytree(model_dir, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)


@pytest.mark.parametrize("hub", ["silent", "refusing"])
def test_unreachable_hub_fails_in_bounded_time_with_one_line_that_says_what_to_do(hub, silent_hub, tmp_path):
    endpoint = silent_hub if hub == "silent" else closed_port()
    env = {"HF_ENDPOINT": endpoint, "HF_HOME": str(tmp_path / "hf"), "HF_HUB_ETAG_TIMEOUT": "2"}
    result, seconds = run_embed(HUB_ID, env)
    assert result.returncode == 1 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr  # no retry pages, no traceback
    assert "could not reach the model hub" in lines[0] and endpoint in lines[0]
    assert "--embedding-model DIR" in lines[0] and "QWEN3_RAG_EMBEDDING_MODEL" in lines[0]
    assert "HF_ENDPOINT" in lines[0] and "HF_HUB_ETAG_TIMEOUT" in lines[0]
    # Deadline 2 x 2 s + 1 s for the hub, plus the CLI's start-up; the silent hub hung for 5+ minutes before.
    assert seconds < 120


def test_cached_checkpoint_loads_when_the_hub_is_unreachable(tiny_models, silent_hub, tmp_path, embedder):
    hub_cache_with(tiny_models.embedding, tmp_path / "hf", HUB_ID)
    env = {"HF_ENDPOINT": silent_hub, "HF_HOME": str(tmp_path / "hf"), "HF_HUB_ETAG_TIMEOUT": "2"}
    result, _ = run_embed(HUB_ID, env)
    assert result.returncode == 0, result.stderr
    vector = np.array(json.loads(result.stdout.splitlines()[0])["embedding"], dtype=np.float32)
    np.testing.assert_allclose(vector, embedder.embed_documents(["hello"])[0], atol=1e-6)


def test_offline_mode_reads_the_cache_without_asking_the_hub(tiny_models, silent_hub, tmp_path):
    hub_cache_with(tiny_models.embedding, tmp_path / "hf", HUB_ID)
    env = {
        "HF_ENDPOINT": silent_hub,
        "HF_HOME": str(tmp_path / "hf"),
        "HF_HUB_ETAG_TIMEOUT": "30",
        "HF_HUB_OFFLINE": "1",
    }
    result, seconds = run_embed(HUB_ID, env)
    assert result.returncode == 0, result.stderr
    assert seconds < 60  # a hub request would have waited 2 x 30 s on the silent server
    # A hub id is read from the cache's snapshot by the direct loader too, transformers never imported.
    probe = (
        "import sys; from qwen3_rag.kernels.loading import load_model; "
        f"model = load_model('embedding', {HUB_ID!r}, device='cpu'); "
        "print(model.loader, 'transformers' in sys.modules)"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=240, env={**os.environ, **env}
    )
    assert loaded.stdout.split() == ["direct", "False"], loaded.stderr


def test_local_files_only_without_a_cached_copy_is_a_load_error():
    with pytest.raises(ModelLoadError, match="qwen3-rag-tests/not-cached") as caught:
        Embedder("qwen3-rag-tests/not-cached", device="cpu", local_files_only=True)
    message = str(caught.value)
    assert "\n" not in message and "is not in the local cache" in message and "local_files_only=True" in message
    assert "directory as model= instead" in message and "couldn't connect" not in message
    assert "--embedding-model" not in message  # the command line's words are the command line's (cli/hints.py)


def test_offline_without_a_cached_copy_is_one_line_of_ours(tmp_path):
    """Not transformers' two lines about an internet connection: ours, naming the cache and what to do."""
    env = {"HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1"}
    result, _ = run_embed(HUB_ID, env)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1 and len(lines) == 1, result.stderr
    assert "is not in the local cache" in lines[0] and str(tmp_path / "hf") in lines[0]
    assert "offline mode" in lines[0] and "HF_ENDPOINT" not in lines[0] and "couldn't connect" not in lines[0]


def test_local_files_only_must_be_a_bool(tiny_models):
    with pytest.raises(InvalidArgumentError, match="local_files_only"):
        Embedder(tiny_models.embedding, device="cpu", local_files_only="yes")
