"""The folder index as the tests drive it: folders of a few files, `qwen3-rag index` and `search` run
in-process, and indexes built under another account's key."""

from __future__ import annotations

import os
from pathlib import Path

from qwen3_rag.cli import main
from qwen3_rag.local_index import IndexStore
from qwen3_rag.local_index.account import KEY_VARIABLE
from qwen3_rag.local_index.seal import manifest_version

TEXTS = {
    "notes.txt": "Beijing is the capital of China.\nParis is the capital of France.\n",
    "guide.md": "# Keys\nRotate the keys with the rotate command every month.\n",
}


def make_folder(root: Path, files: dict[str, str] = TEXTS) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (root / name).write_text(text, encoding="utf-8")
    return root


def index(folder: Path, index_dir: Path, model: str, *extra: str) -> int:
    return main(
        [
            "index",
            str(folder),
            "--index",
            str(index_dir),
            "--embedding-model",
            model,
            "--device",
            "cpu",
            "--chunk-tokens",
            "32",
            "--overlap",
            "8",
            *extra,
        ]
    )


def search_json(index_dir: Path, *extra: str) -> dict:
    return main(["-q", "search", "capital", "--index", str(index_dir), "--no-rerank", "--json", *extra])


def indexed_paths(index_dir: Path) -> set[str]:
    """The files an index holds, as absolute paths (it records them from the folder holding the index)."""
    with IndexStore.open(index_dir) as store:
        return {os.path.join(os.path.realpath(index_dir.parent), path) for path, *_ in store.vectors_by_chunk()}


def last_error(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    return err[-1] if err else ""


PRIVATE = "the private plans of the other index"


def build(tmp_path: Path, name: str, model: str, files: dict[str, str] | None = None) -> Path:
    folder = make_folder(tmp_path / f"{name}-docs", files or {"notes.txt": f"notes of {name}\n"})
    assert index(folder, tmp_path / name, model) == 0
    return tmp_path / name


def newest_manifest(table: Path) -> Path:
    return max((table / "_versions").glob("*.manifest"), key=lambda p: manifest_version(p.name))


def foreign_index(tmp_path: Path, model: str, monkeypatch, own_key: Path) -> Path:
    monkeypatch.setenv(KEY_VARIABLE, str(tmp_path / "keys" / "theirs.key"))
    theirs = build(tmp_path, "theirs", model)
    monkeypatch.setenv(KEY_VARIABLE, str(own_key))
    return theirs
