"""An index records what its models are, never where to load them from: a recorded folder or hub id runs
only for the account that built the index, only while unchanged, and after the user's own choice.
Each test here failed when the index recorded model paths and search loaded them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hostile_server import Hostile
from index_helpers import index, make_folder

from qwen3_rag import RemoteEmbedder
from qwen3_rag.checkpoint.identity import checkpoint_identity, fingerprint
from qwen3_rag.cli import main
from qwen3_rag.local_index import IndexStore
from qwen3_rag.local_index.account import KEY_VARIABLE
from qwen3_rag.vector_settings import VectorSettings


def search(index_dir: Path, *extra: str) -> int:
    return main(["-q", "search", "capital", "--index", str(index_dir), "--device", "cpu", "--json", *extra])


def error(capsys) -> str:
    return capsys.readouterr().err.strip().splitlines()[-1]


def test_an_index_records_a_fingerprint_and_no_path(tmp_path, tiny_models, own_key):
    model = shutil.copytree(tiny_models.embedding, tmp_path / "models" / "my-embedder")
    assert index(make_folder(tmp_path / "docs"), tmp_path / "idx", str(model)) == 0
    with IndexStore.open(tmp_path / "idx") as store:
        recorded = store.settings
    assert recorded["embedding_model"] == fingerprint(str(model)) == checkpoint_identity(tiny_models.embedding)
    assert "reranker_model" not in recorded
    # No model path in the tables or the seal: only this account's own record of what it ran has one.
    for file in (tmp_path / "idx").rglob("*"):
        if file.is_file() and file.name != "qwen3-rag.models":
            assert str(tmp_path / "models").encode() not in file.read_bytes(), file


def test_search_runs_the_models_this_account_built_the_index_with(tmp_path, tiny_models, reranker, own_key, capsys):
    folder = make_folder(tmp_path / "docs")
    assert index(folder, tmp_path / "idx", tiny_models.embedding, "--reranker-model", tiny_models.reranker) == 0
    assert capsys.readouterr().err.strip().endswith(f"search reranks with {tiny_models.reranker}")
    assert search(tmp_path / "idx") == 0
    results = json.loads(capsys.readouterr().out)["results"]
    ranked = reranker.rerank("capital", [r["text"] for r in results])
    assert [r["score"] for r in results] == pytest.approx([r.score for r in ranked], abs=1e-6)


def test_flag_then_variable_then_the_index_for_both_models(tmp_path, tiny_models, own_key, monkeypatch, capsys):
    folder = make_folder(tmp_path / "docs")
    assert index(folder, tmp_path / "idx", tiny_models.embedding, "--reranker-model", tiny_models.reranker) == 0
    capsys.readouterr()
    # The variable wins over the index's own reranker: an embedding folder there is refused as such.
    monkeypatch.setenv("QWEN3_RAG_RERANKER_MODEL", tiny_models.embedding)
    assert search(tmp_path / "idx") == 1
    assert "is an embedding checkpoint" in error(capsys)
    assert search(tmp_path / "idx", "--reranker-model", tiny_models.reranker) == 0  # and the flag over it
    capsys.readouterr()
    monkeypatch.delenv("QWEN3_RAG_RERANKER_MODEL")
    # The embedding variable wins over the index's own embedder, and a model other than the index's is refused.
    monkeypatch.setenv("QWEN3_RAG_EMBEDDING_MODEL", tiny_models.embedding_plain_tokenizer)
    assert search(tmp_path / "idx", "--no-rerank") == 1
    assert "holds vectors of a local checkpoint (fingerprint sha256:" in error(capsys)
    assert search(tmp_path / "idx", "--no-rerank", "--embedding-model", tiny_models.embedding) == 0
    capsys.readouterr()
    # At index time the summary names the reranker search will use, from the same precedence.
    monkeypatch.delenv("QWEN3_RAG_EMBEDDING_MODEL")
    monkeypatch.setenv("QWEN3_RAG_RERANKER_MODEL", "Qwen/Qwen3-Reranker-4B")
    assert index(folder, tmp_path / "idx", tiny_models.embedding) == 0
    assert capsys.readouterr().err.strip().endswith("search reranks with Qwen/Qwen3-Reranker-4B")


def test_a_changed_model_folder_is_not_run_in_its_place(tmp_path, tiny_models, own_key, capsys):
    model = shutil.copytree(tiny_models.embedding, tmp_path / "model")
    assert index(make_folder(tmp_path / "docs"), tmp_path / "idx", str(model)) == 0
    shutil.rmtree(model)
    shutil.copytree(tiny_models.embedding_plain_tokenizer, model)  # another checkpoint in the same place
    capsys.readouterr()
    assert search(tmp_path / "idx", "--no-rerank") == 1
    assert "is gone or has changed since" in error(capsys)


FIFO_SEARCH = """
import sys
from qwen3_rag.cli import main
sys.exit(main(["-q", "search", "capital", "--index", sys.argv[1], "--no-rerank", "--device", "cpu"]))
"""


def test_a_trusted_index_names_models_but_never_runs_them(tmp_path, tiny_models, own_key, monkeypatch, capsys):
    """A repository that ships its own index and a model folder beside it (its config.json a pipe, whose
    reading would never end): after --trust, search opens nothing of it and goes to no hub."""
    repo = tmp_path / "repo"
    model = shutil.copytree(tiny_models.embedding, repo / "model")
    judge = shutil.copytree(tiny_models.reranker, repo / "judge")
    monkeypatch.setenv(KEY_VARIABLE, str(tmp_path / "keys" / "theirs.key"))  # the stranger builds it
    assert index(make_folder(repo / "docs"), repo / ".qwen3-rag", str(model), "--reranker-model", str(judge)) == 0
    for folder in (model, judge):
        (folder / "config.json").unlink()
        os.mkfifo(folder / "config.json")
    monkeypatch.setenv(KEY_VARIABLE, str(own_key))  # this account trusts it
    assert main(["-q", "index", "--index", str(repo / ".qwen3-rag"), "--trust"]) == 0
    capsys.readouterr()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "QWEN3_RAG_EMBEDDING_MODEL": ""}
    env.pop("QWEN3_RAG_EMBEDDING_MODEL")
    run = subprocess.run(
        [sys.executable, "-c", FIFO_SEARCH, str(repo / ".qwen3-rag")],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert run.returncode == 1 and run.stdout == ""
    assert "holds vectors of a local checkpoint" in run.stderr and "name the index's model" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1 and "Qwen/Qwen3-Embedding-0.6B" in run.stderr


def test_a_served_models_card_is_recorded_as_what_it_names_never_where(tmp_path, tiny_models):
    """A server whose /v1/models card names a local folder as its checkpoint: the client reads that
    folder's tokenizer (as before), and the index would record its fingerprint, not the folder."""
    server = Hostile(tiny_models.embedding)
    try:
        served = VectorSettings.of(RemoteEmbedder(server.url))
    finally:
        server.close()
    assert served.embedding_model == fingerprint(tiny_models.embedding)
    assert tiny_models.embedding not in json.dumps(served.record())


def test_a_recorded_revision_is_compared_never_fetched(tmp_path, tiny_models, own_key, monkeypatch, capsys):
    monkeypatch.setenv(KEY_VARIABLE, str(tmp_path / "keys" / "theirs.key"))
    folder = make_folder(tmp_path / "docs")
    assert index(folder, tmp_path / "idx", tiny_models.embedding, "--embedding-revision", "refs/pr/1") == 0
    monkeypatch.setenv(KEY_VARIABLE, str(own_key))
    assert main(["-q", "index", "--index", str(tmp_path / "idx"), "--trust"]) == 0
    capsys.readouterr()
    assert search(tmp_path / "idx", "--no-rerank", "--embedding-model", tiny_models.embedding) == 1
    assert "at revision 'refs/pr/1', and the model here is at revision None" in error(capsys)
    named = ["--embedding-model", tiny_models.embedding, "--embedding-revision", "refs/pr/1"]
    assert search(tmp_path / "idx", "--no-rerank", *named) == 0  # pinned by the user, it runs


def test_a_folder_named_like_a_default_model_never_stands_in_for_it(tmp_path, tiny_models, monkeypatch, capsys):
    """A repository holding ./Qwen/Qwen3-Reranker-0.6B: with no reranker named, that folder is not loaded."""
    shutil.copytree(tiny_models.reranker, tmp_path / "Qwen" / "Qwen3-Reranker-0.6B")
    make_folder(tmp_path / "docs")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("QWEN3_RAG_RERANKER_MODEL", raising=False)
    assert index(Path("docs"), tmp_path / "idx", tiny_models.embedding) == 1
    assert "is named like the default reranker model on the hub" in error(capsys)
    assert (
        index(Path("docs"), tmp_path / "idx", tiny_models.embedding, "--reranker-model", "./Qwen/Qwen3-Reranker-0.6B")
        == 0
    )
    shutil.copytree(tiny_models.embedding, tmp_path / "Qwen" / "Qwen3-Embedding-0.6B")
    (tmp_path / "texts.txt").write_text("one text\n")
    monkeypatch.delenv("QWEN3_RAG_EMBEDDING_MODEL", raising=False)
    capsys.readouterr()
    assert main(["-q", "embed", "texts.txt"]) == 1  # nor for a command without an index
    assert "is named like the default embedding model on the hub" in error(capsys)
