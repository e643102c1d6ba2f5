"""An index records identities, not locations: paths relative to the folder holding the index, and vectors
found again by the text they embed. Each test here failed when the index recorded absolute paths."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
from index_helpers import make_folder

from qwen3_rag.cli import main
from qwen3_rag.local_index import IndexStore
from qwen3_rag.local_index.places import key_under, shown_path

DOCS = {
    "notes.txt": "Beijing is the capital of China.\nParis is the capital of France.\n",
    "guide.md": "\n".join(f"Step {n}: rotate the key of service {n} and restart it." for n in range(1, 13)),
    "faq.md": "How do I rotate keys? Run the rotate command.\n",
}


def index_here(model: str, *extra: str) -> int:
    """`qwen3-rag index docs` from the working folder, into its default `.qwen3-rag`."""
    return main(
        [
            "index",
            "docs",
            "--embedding-model",
            model,
            "--device",
            "cpu",
            "--chunk-tokens",
            "16",
            "--overlap",
            "4",
            *extra,
        ]
    )


def summary(capsys) -> str:
    return capsys.readouterr().err.strip().splitlines()[-1]


def stored(index_dir: Path) -> dict:
    with IndexStore.open(index_dir) as store:
        return store.vectors_by_chunk()


def search_json(capsys, *extra: str) -> dict:
    assert main(["-q", "search", "capital", "--no-rerank", "--json", "-k", "20", *extra]) == 0
    return json.loads(capsys.readouterr().out)


def test_a_renamed_folder_is_the_same_corpus(tmp_path, tiny_models, monkeypatch, capsys):
    make_folder(tmp_path / "a" / "docs", DOCS)
    monkeypatch.chdir(tmp_path / "a")
    assert index_here(tiny_models.embedding) == 0
    first = stored(tmp_path / "a" / ".qwen3-rag")
    assert {path for path, *_ in first} == {"docs/notes.txt", "docs/guide.md", "docs/faq.md"}

    os.rename(tmp_path / "a", tmp_path / "b")
    monkeypatch.chdir(tmp_path / "b")
    capsys.readouterr()
    assert index_here(tiny_models.embedding) == 0
    line = summary(capsys)
    assert line.startswith("0 files indexed (0 chunks), 3 unchanged, 0 removed") and "holds 3 files" in line
    assert stored(tmp_path / "b" / ".qwen3-rag").keys() == first.keys()
    results = search_json(capsys)["results"]
    assert len(results) == len(first)  # every chunk once: no second copy under the old folder's name
    assert all(r["path"].startswith("docs" + os.sep) for r in results)  # as typed from here, never /tmp/.../a


def test_moved_renamed_and_copied_files_cost_a_hash_not_a_forward_pass(tmp_path, tiny_models, monkeypatch, capsys):
    make_folder(tmp_path / "docs", DOCS)
    monkeypatch.chdir(tmp_path)
    assert index_here(tiny_models.embedding) == 0
    chunks_before = len(stored(tmp_path / ".qwen3-rag"))
    (tmp_path / "docs" / "old").mkdir()
    os.rename(tmp_path / "docs" / "guide.md", tmp_path / "docs" / "old" / "handbook.md")  # moved and renamed
    shutil.copy(tmp_path / "docs" / "notes.txt", tmp_path / "docs" / "notes-copy.txt")  # duplicated
    capsys.readouterr()
    assert index_here(tiny_models.embedding) == 0
    line = summary(capsys)
    guide_chunks = sum(1 for path, *_ in stored(tmp_path / ".qwen3-rag") if path.endswith("handbook.md"))
    assert line.startswith(f"2 files indexed ({guide_chunks + 1} chunks, {guide_chunks + 1} reused)")
    assert "1 removed" in line and "holds 4 files" in line and "tokens/s" not in line  # nothing was embedded

    now = stored(tmp_path / ".qwen3-rag")
    assert len(now) == chunks_before + 1  # the copy's chunk; the moved file's chunks replaced the old ones
    assert not any(path == "docs/guide.md" for path, *_ in now)
    fresh = tmp_path / "fresh"
    assert main(["index", "docs", "--index", str(fresh), "--embedding-model", tiny_models.embedding,
                 "--device", "cpu", "--chunk-tokens", "16", "--overlap", "4"]) == 0  # fmt: skip
    rebuilt = stored(fresh)
    assert now.keys() == rebuilt.keys()
    for key, vector in rebuilt.items():
        np.testing.assert_allclose(now[key], vector, rtol=0, atol=1e-6)


def test_an_edited_file_embeds_only_its_changed_chunks(tmp_path, tiny_models, monkeypatch, capsys):
    make_folder(tmp_path / "docs", DOCS)
    monkeypatch.chdir(tmp_path)
    assert index_here(tiny_models.embedding) == 0
    guide = tmp_path / "docs" / "guide.md"
    guide.write_text(guide.read_text() + "\nStep 13: a new last step about the cache.")
    capsys.readouterr()
    assert index_here(tiny_models.embedding) == 0
    line = summary(capsys)
    chunks = sum(1 for path, *_ in stored(tmp_path / ".qwen3-rag") if path == "docs/guide.md")
    reused = int(line.split(" reused")[0].rsplit(" ", 1)[1])
    assert line.startswith(f"1 file indexed ({chunks} chunks, ") and 0 < reused < chunks
    assert "tokens/s" in line  # the new tail was embedded


def test_a_copied_project_holds_and_prints_no_foreign_path(tmp_path, tiny_models, monkeypatch, capsys):
    team = tmp_path / "team-home" / "project"
    make_folder(team / "docs", DOCS)
    monkeypatch.chdir(team)
    assert index_here(tiny_models.embedding) == 0
    mine = tmp_path / "my-home" / "project"
    shutil.copytree(team, mine)
    shutil.rmtree(tmp_path / "team-home")
    monkeypatch.chdir(mine)
    capsys.readouterr()
    foreign = str(tmp_path / "team-home").encode()
    for file in (mine / ".qwen3-rag").rglob("*"):
        assert not file.is_file() or foreign not in file.read_bytes(), file
    results = search_json(capsys)["results"]
    assert {r["path"] for r in results} <= {os.path.join("docs", name) for name in DOCS}
    assert main(["search", "capital", "--no-rerank"]) == 0
    assert str(tmp_path) not in capsys.readouterr().out
    assert index_here(tiny_models.embedding) == 0  # and it goes on: nothing new, nothing removed
    assert summary(capsys).startswith("0 files indexed (0 chunks), 3 unchanged, 0 removed")


def test_records_are_compared_and_shown_as_strings(tmp_path, monkeypatch):
    assert key_under("docs/a.md", "docs") and key_under("docs", "docs") and not key_under("docs2/a.md", "docs")
    assert key_under("docs/a.md", ".") and not key_under("../x/a.md", ".") and not key_under("/abs/a.md", ".")
    assert key_under("../data/a.md", "..") and not key_under("../../data/a.md", "..")  # climbs out of ".." again
    monkeypatch.chdir(tmp_path)
    assert shown_path("docs/a.md", tmp_path / ".qwen3-rag") == os.path.join("docs", "a.md")
    assert shown_path("../elsewhere/a.md", tmp_path / "sub" / ".qwen3-rag") == os.path.join("elsewhere", "a.md")
    assert shown_path("/old/absolute/a.md", tmp_path / ".qwen3-rag") == "/old/absolute/a.md"  # format 2


def test_a_renamed_subfolder_takes_its_chunks_and_a_copy_keeps_both(tmp_path, tiny_models, monkeypatch, capsys):
    make_folder(tmp_path / "docs", DOCS)
    monkeypatch.chdir(tmp_path)
    assert index_here(tiny_models.embedding) == 0
    chunks = len(stored(tmp_path / ".qwen3-rag"))
    os.rename(tmp_path / "docs", tmp_path / "manual")
    capsys.readouterr()
    assert main(["index", "manual", "--embedding-model", tiny_models.embedding, "--chunk-tokens", "16",
                 "--overlap", "4"]) == 0  # fmt: skip
    line = summary(capsys)  # the old paths are gone from disk: their entries go, their vectors stay in use
    assert line.startswith(f"3 files indexed ({chunks} chunks, {chunks} reused), 0 unchanged, 3 removed")
    assert {path.split("/")[0] for path, *_ in stored(tmp_path / ".qwen3-rag")} == {"manual"}
    shutil.copytree(tmp_path / "manual", tmp_path / "manual-copy")
    assert main(["index", "manual-copy", "--embedding-model", tiny_models.embedding, "--chunk-tokens", "16",
                 "--overlap", "4"]) == 0  # fmt: skip
    line = summary(capsys)  # a copy: both folders exist, so both stay, and the copy embedded nothing
    assert line.startswith(f"3 files indexed ({chunks} chunks, {chunks} reused), 0 unchanged, 0 removed")
    assert "holds 6 files" in line


def test_an_index_of_format_2_is_searched_then_upgraded_without_embedding(tmp_path, tiny_models, embedder, capsys):
    """Format 2 recorded absolute paths and no text hashes: searched as it always was, then upgraded by the
    next `index` run, every vector kept as it was and nothing embedded."""
    import hashlib

    import lancedb
    import pyarrow as pa

    from qwen3_rag.local_index.store import FILES_SCHEMA, SETTINGS_KEY, chunks_schema, file_id
    from qwen3_rag.vector_settings import VectorSettings

    folder = make_folder(tmp_path / "docs", DOCS)
    settings = {**VectorSettings.of(embedder).record(), "chunk_tokens": 16, "overlap": 4, "text_field": "text"}
    located = {**settings, "embedding_model": tiny_models.embedding, "reranker_model": "/old/home/reranker"}
    schema = chunks_schema(embedder.dim, format_version=2).with_metadata(
        {SETTINGS_KEY: json.dumps({**located, "format_version": 2})}
    )
    texts = list(DOCS.values()) + ["an entry written by id"]
    vectors = embedder.embed_documents(texts)
    paths = [str(folder / name) for name in DOCS] + ["doc-7"]
    rows = {
        "id": [f"{p}#0" for p in paths],
        "file_id": [file_id(p) for p in paths],
        "text": texts,
        "vector": pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1)), embedder.dim),
        "metadata": [json.dumps({"path": p, "chunk": 0, "start_line": 1, "end_line": 1}) for p in paths],
    }
    stats = [os.stat(p) for p in paths[:-1]]
    files = {
        "file_id": [file_id(p) for p in paths],
        "path": paths,
        "sha256": [hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in paths[:-1]] + ["0"],
        "size": [info.st_size for info in stats] + [0],
        "mtime_ns": [info.st_mtime_ns for info in stats] + [0],
    }
    db = lancedb.connect(str(tmp_path / "idx"))
    db.create_table("chunks", pa.table(rows, schema=schema))
    db.create_table("files", pa.table(files, schema=pa.schema([f for f in FILES_SCHEMA if f.name != "document"])))
    assert main(["-q", "index", "--index", str(tmp_path / "idx"), "--trust"]) == 0
    answer = search_json(capsys, "--index", str(tmp_path / "idx"), "--embedding-model", tiny_models.embedding)
    assert sorted(r["path"] for r in answer["results"]) == sorted(paths)  # as format 2 printed them

    capsys.readouterr()
    assert main(["index", str(folder), "--index", str(tmp_path / "idx"),
                 "--embedding-model", tiny_models.embedding]) == 0  # fmt: skip
    lines = capsys.readouterr().err.strip().splitlines()
    assert any("upgraded the index" in line and "4 chunks kept" in line for line in lines)
    assert lines[-1].startswith("0 files indexed (0 chunks), 3 unchanged, 0 removed") and "tokens/s" not in lines[-1]
    upgraded = stored(tmp_path / "idx")
    assert {path for path, *_ in upgraded} == {f"docs/{name}" for name in DOCS} | {"doc-7"}
    for (_, *_, text), vector in upgraded.items():
        np.testing.assert_array_equal(vector, vectors[texts.index(text)])  # the very vectors, not new ones
    with IndexStore.open(tmp_path / "idx") as store:
        assert store.format_version == 3 and "reranker_model" not in store.settings
        assert store.settings["embedding_model"].startswith("sha256:")


def test_entries_written_by_id_outlive_an_index_run_over_the_same_folder(
    tmp_path, tiny_models, embedder, monkeypatch, capsys
):
    """Ray's write_index names entries by id: `qwen3-rag index .` beside them must not take them for files."""
    from qwen3_rag.local_index.documents import add_documents

    make_folder(tmp_path / "docs", DOCS)
    monkeypatch.chdir(tmp_path)
    assert index_here(tiny_models.embedding) == 0
    with IndexStore.open(tmp_path / ".qwen3-rag") as store:
        settings = {k: v for k, v in store.settings.items() if k != "format_version"}
    texts = ["an imported record", "another imported record"]
    with IndexStore.create_or_open(tmp_path / ".qwen3-rag", settings) as store:
        add_documents(store, [(["doc-1", "docs/imported"], texts, embedder.embed_documents(texts))])
    capsys.readouterr()
    assert main(["index", ".", "--embedding-model", tiny_models.embedding, "--chunk-tokens", "16",
                 "--overlap", "4"]) == 0  # fmt: skip
    assert "0 removed" in summary(capsys)
    paths = {path for path, *_ in stored(tmp_path / ".qwen3-rag")}
    assert {"doc-1", "docs/imported"} <= paths


def test_a_renamed_folder_outside_the_index_folder_leaves_no_copy(tmp_path, tiny_models, monkeypatch, capsys):
    make_folder(tmp_path / "data" / "docs", DOCS)
    (tmp_path / "project").mkdir()
    monkeypatch.chdir(tmp_path / "project")
    argv = ["--embedding-model", tiny_models.embedding, "--chunk-tokens", "16", "--overlap", "4"]
    assert main(["index", "../data/docs", *argv]) == 0
    assert {path.split("/")[1] for path, *_ in stored(tmp_path / "project" / ".qwen3-rag")} == {"data"}
    os.rename(tmp_path / "data", tmp_path / "archive")
    capsys.readouterr()
    assert main(["index", "../archive/docs", *argv]) == 0
    line = summary(capsys)
    assert "3 removed" in line and "holds 3 files" in line and "tokens/s" not in line
    results = search_json(capsys, "--index", str(tmp_path / "project" / ".qwen3-rag"))["results"]
    assert results and all(r["path"].startswith(str(tmp_path / "archive" / "docs")) for r in results)
