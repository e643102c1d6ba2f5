"""What the command line refuses before torch is imported, and what it must let through (review of issue 35)."""

from __future__ import annotations

import os

import pytest

from qwen3_rag.checkpoint.identity import role_hint
from qwen3_rag.cli.checks import check_before_import
from qwen3_rag.cli.hints import for_the_shell, recorded_folders
from qwen3_rag.cli.parser import RERANKER_MODEL_VARIABLE, parse
from qwen3_rag.display import quoted
from qwen3_rag.errors import InvalidArgumentError
from qwen3_rag.local_index.advice import build_hint, rebuild_hint, trust_call, update_hint, vector_only_hint


def test_a_pipe_is_a_readable_input(tmp_path, tiny_models):
    """`qwen3-rag embed <(zcat x.gz)` reads a pipe: no regular file, yet no error before it is opened."""
    pipe = tmp_path / "records"
    os.mkfifo(pipe)
    check_before_import(parse(["embed", str(pipe), "--embedding-model", tiny_models.embedding]))
    with pytest.raises(InvalidArgumentError, match="INPUT .* is a folder"):
        check_before_import(parse(["embed", str(tmp_path), "--embedding-model", tiny_models.embedding]))


def test_a_served_reranker_ignores_the_local_reranker_variable(monkeypatch, tiny_models, tmp_path):
    monkeypatch.setenv(RERANKER_MODEL_VARIABLE, str(tmp_path / "gone"))  # a stale local path
    served = ["rerank", "--query", "q", "--reranker-url", "http://127.0.0.1:9"]
    check_before_import(parse(served))  # the server runs its own model: the variable is not read
    with pytest.raises(InvalidArgumentError, match=r"\$QWEN3_RAG_RERANKER_MODEL .* is not an existing folder"):
        check_before_import(parse(["rerank", "--query", "q"]))


def test_the_rebuild_hint_never_suggests_indexing_the_root():
    index = "/srv/x/.qwen3-rag"
    # Format 2 recorded absolute paths, and ids of documents unmarked among them.
    assert recorded_folders(["/home/u/docs/a.md", "/home/u/docs/x/b.md", "/data/c.md", "doc-7"], index) == [
        "/data",
        "/home/u/docs",
    ]
    assert recorded_folders(["/a.md", "/data/b.md"], index) == []  # the placeholder DIR stays


def test_each_fix_the_core_advises_in_python_words_is_said_as_a_command(tmp_path):
    """The index and checkpoint code word their advice for Python (local_index/advice.py, identity.role_hint);
    the command line says each as the `qwen3-rag` command that does it, and no Python words remain."""
    index = tmp_path / "my index"
    args = parse(["search", "q", "--index", str(index)])
    message = (
        f"no index there; {build_hint()}. {trust_call(index)}; {update_hint()}, or {vector_only_hint()}; "
        f"{role_hint('reranker')}; {role_hint('embedding')}"
    )
    shell = for_the_shell(message, args)
    shown = quoted(index)
    assert shell == (
        f"no index there; build one with: qwen3-rag index DIR --index {shown}. qwen3-rag index --index {shown} "
        "--trust; run qwen3-rag index on it again, or search without --hybrid; give it as --reranker-model; "
        "give it as --embedding-model"
    )
    folder = tmp_path / "docs"
    rebuilt = for_the_shell(
        f"the index is damaged; {rebuild_hint()}", parse(["index", str(folder), "--index", str(index)])
    )
    assert (
        rebuilt == f"the index is damaged; rebuild it with: qwen3-rag index {quoted(folder)} --index {shown} --rebuild"
    )
