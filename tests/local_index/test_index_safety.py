"""The folder index on hostile folders: planted index folders, links out, bad names and records,
damaged indexes and terminal escapes. Every test here failed on the SQLite + vector-file store."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import lancedb
import numpy as np
import pyarrow as pa
import pytest
from index_helpers import TEXTS, index, indexed_paths, last_error, make_folder, search_json

from qwen3_rag.cli import main
from qwen3_rag.local_index import IndexStore


def snapshot(root: Path) -> dict[str, tuple[int, bytes]]:
    """Every file under `root` (not following links) with its mode and bytes: to prove nothing changed."""
    found = {}
    for folder, dirs, files in os.walk(root):
        for name in files + dirs:
            path = Path(folder, name)
            found[str(path)] = (
                os.lstat(path).st_mode,
                path.read_bytes() if path.is_file() and not path.is_symlink() else b"",
            )
    return found


# ----- 2. a planted index folder never reaches outside -----


@pytest.fixture()
def outside(tmp_path: Path) -> Path:
    victim = tmp_path / "outside"
    victim.mkdir()
    (victim / "keep.txt").write_text("precious")
    (victim / "folder").mkdir()
    (victim / "folder" / "file.bin").write_bytes(b"\x00" * 16)
    return victim


PLANTS = {
    "lock file linked outside": lambda idx, out: (idx.mkdir(), os.symlink(out / "keep.txt", idx / "write.lock")),
    "index folder is a link": lambda idx, out: os.symlink(out / "folder", idx),
    "table folder linked outside": lambda idx, out: (idx.mkdir(), os.symlink(out / "folder", idx / "chunks.lance")),
    "data folder linked outside": lambda idx, out: (
        (idx / "chunks.lance").mkdir(parents=True),
        os.symlink(out / "folder", idx / "chunks.lance" / "data"),
    ),
    "old vector file linked outside": lambda idx, out: (
        idx.mkdir(),
        (idx / "index.sqlite").write_bytes(b""),
        os.symlink(out / "keep.txt", idx / "vectors-0a.f32"),
    ),
    "foreign entries": lambda idx, out: (idx.mkdir(), (idx / "README").write_text("not ours")),
    "hard link to a file outside": lambda idx, out: (
        (idx / "chunks.lance" / "data").mkdir(parents=True),
        os.link(out / "keep.txt", idx / "chunks.lance" / "data" / "x.lance"),
    ),
}


@pytest.mark.parametrize("plant", sorted(PLANTS))
@pytest.mark.parametrize("rebuild", [False, True])
def test_a_planted_index_folder_cannot_touch_anything_outside_it(
    plant, rebuild, tmp_path, outside, tiny_models, capsys, monkeypatch
):
    """`qwen3-rag index .` in a repository that ships its own `.qwen3-rag/`, set to reach outside."""
    repo = make_folder(tmp_path / "repo")
    PLANTS[plant](repo / ".qwen3-rag", outside)
    before = snapshot(outside)
    monkeypatch.chdir(repo)
    code = main(
        [
            "index",
            ".",
            "--embedding-model",
            tiny_models.embedding,
            "--device",
            "cpu",
            *(["--rebuild"] if rebuild else []),
        ]
    )
    assert snapshot(outside) == before  # nothing outside truncated, written or deleted
    error = last_error(capsys)
    if code == 0:  # only --rebuild of entries qwen3-rag makes itself may go on, removing links as links
        assert rebuild and plant not in {"index folder is a link", "foreign entries"}
        assert indexed_paths(repo / ".qwen3-rag") == {str(repo / name) for name in TEXTS}
    else:
        assert error.startswith("qwen3-rag: error: ") and "Traceback" not in error
        assert any(
            word in error
            for word in ("symbolic link", "did not create", "hard link", "qwen3-rag 0.1", "not a plain file")
        )


def test_a_damaged_index_is_reported_and_rebuild_recovers(tmp_path, tiny_models, capsys):
    folder = make_folder(tmp_path / "docs")
    assert index(folder, tmp_path / "idx", tiny_models.embedding) == 0
    assert search_json(tmp_path / "idx") == 0
    expected = json.loads(capsys.readouterr().out)["results"]
    data = next((tmp_path / "idx" / "chunks.lance" / "data").iterdir())
    data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])  # a torn copy or a disk error

    assert search_json(tmp_path / "idx") == 1
    error = last_error(capsys)
    assert "is damaged" in error and "--rebuild" in error and capsys.readouterr().out == ""
    assert index(folder, tmp_path / "idx", tiny_models.embedding) == 1  # no "success" that writes on
    assert "is damaged" in last_error(capsys)

    assert index(folder, tmp_path / "idx", tiny_models.embedding, "--rebuild") == 0
    capsys.readouterr()
    assert search_json(tmp_path / "idx") == 0
    assert json.loads(capsys.readouterr().out)["results"] == expected


def test_a_garbled_version_file_is_reported(tmp_path, tiny_models, capsys):
    folder = make_folder(tmp_path / "docs")
    index(folder, tmp_path / "idx", tiny_models.embedding)
    for manifest in (tmp_path / "idx" / "chunks.lance" / "_versions").glob("*.manifest"):
        manifest.write_bytes(b"garbage")
    capsys.readouterr()
    assert search_json(tmp_path / "idx") == 1
    assert "was not written by this account, or was changed since" in last_error(capsys)  # the seal sees it first
    # --trust decodes each manifest before vouching for it (manifest_check.py): garbage is never sealed
    assert main(["-q", "index", "--index", str(tmp_path / "idx"), "--trust"]) == 1
    assert "cannot be trusted: not a Lance manifest" in last_error(capsys)
    assert search_json(tmp_path / "idx") == 1


def test_rows_qwen3_rag_did_not_write_are_refused(tmp_path, tiny_models, capsys):
    """A row added behind our back (here through LanceDB itself) with a vector that is not a unit vector."""
    folder = make_folder(tmp_path / "docs")
    index(folder, tmp_path / "idx", tiny_models.embedding)
    table = lancedb.connect(str(tmp_path / "idx")).open_table("chunks")
    row = table.to_arrow().slice(0, 1).to_pylist()[0]
    row.update(id="forged#0", vector=[10.0] * 64)
    table.add(pa.Table.from_pylist([row], schema=table.schema))
    capsys.readouterr()
    search = ["-q", "search", "capital", "--index", str(tmp_path / "idx"), "--no-rerank", "-k", "9"]
    assert main(search) == 1
    assert "is not one this account sealed" in last_error(capsys)  # a commit qwen3-rag did not make
    assert main(["-q", "index", "--index", str(tmp_path / "idx"), "--trust"]) == 0
    assert main(search) == 1  # trusted, the rows themselves are still checked
    assert "is damaged (chunk 'forged#0' has a vector that is not a unit vector)" in last_error(capsys)


def test_an_index_of_the_old_format_asks_for_a_rebuild(tmp_path, tiny_models, capsys):
    folder = make_folder(tmp_path / "docs")
    old = tmp_path / "idx"
    old.mkdir()
    (old / "index.sqlite").write_bytes(b"SQLite format 3\0")
    (old / "vectors-0123456789ab.f32").write_bytes(b"\0" * 256)
    (old / "write.lock").write_bytes(b"")
    assert search_json(old) == 1
    error = last_error(capsys)
    assert "format of qwen3-rag 0.1" in error and "--rebuild" in error
    assert index(folder, old, tiny_models.embedding) == 1
    assert f"qwen3-rag index '{folder}' --index" in last_error(capsys)
    assert index(folder, old, tiny_models.embedding, "--rebuild") == 0
    names = ["chunks.lance", "files.lance", "qwen3-rag.models", "qwen3-rag.seal", "write.lock"]
    assert sorted(p.name for p in old.iterdir()) == names


# ----- 3. the walk stays inside the folders -----


def test_links_out_of_the_folder_are_never_followed_and_vanish_from_the_index(tmp_path, outside, tiny_models, capsys):
    folder = make_folder(tmp_path / "docs")
    (outside / "secret.txt").write_text("the password is hunter2")
    (outside / ".ssh").mkdir()
    (outside / ".ssh" / "id_rsa.txt").write_text("PRIVATE KEY")
    os.symlink(outside / "secret.txt", folder / "notes-link.txt")  # a file link leaving the folder
    os.symlink(outside, folder / "linked-folder")  # a folder link leaving it
    os.symlink(outside / ".ssh" / "id_rsa.txt", folder / "innocent.md")
    os.symlink(folder / "guide.md", folder / "inside-link.md")  # stays inside: followed only when asked
    os.symlink(folder, folder / "loop")  # a cycle

    for follow in ([], ["--follow-symlinks"]):
        assert index(folder, tmp_path / "idx", tiny_models.embedding, *follow) == 0
        paths = indexed_paths(tmp_path / "idx")
        assert not any(
            "hunter2" in text or "PRIVATE" in text for *_, text in IndexStore.open(tmp_path / "idx").vectors_by_chunk()
        )
        assert not any("secret" in p or "id_rsa" in p or "linked-folder" in p or "innocent" in p for p in paths)
        assert (str(folder / "inside-link.md") in paths) == bool(follow)
    summary = capsys.readouterr().err.strip().splitlines()[-1]
    assert "3 skipped (link out of the folders)" in summary

    assert index(folder, tmp_path / "idx", tiny_models.embedding) == 0  # no longer following: the link goes
    assert str(folder / "inside-link.md") not in indexed_paths(tmp_path / "idx")


def test_hostile_names_and_records_are_skipped_counted_and_the_run_completes(tmp_path, tiny_models, capsys):
    folder = make_folder(tmp_path / "docs")
    os.mkfifo(folder / "pipe.txt")  # reading it would wait forever
    with open(os.path.join(os.fsencode(folder), b"bad-\xff-name.txt"), "wb") as out:
        out.write(b"a name that is not UTF-8")
    records = [
        '{"text": "a record with a \u2028 line separator, valid JSON"}',
        '{"text": "' + "[" * 100_000 + '"}',  # valid: brackets inside a string
        "[" * 100_000 + "]" * 100_000,  # nesting too deep for the parser
        '{"text": "big", "n": ' + "9" * 10_000 + "}",  # an integer too long to convert
        '{"text": "lone \\ud800 surrogate"}',
        "{not json",
        '{"title": "no text"}',
    ]
    (folder / "records.jsonl").write_text("\n".join(records) + "\n", encoding="utf-8")
    assert index(folder, tmp_path / "idx", tiny_models.embedding) == 0
    summary = capsys.readouterr().err.strip().splitlines()[-1]
    for part in [
        "1 skipped (name not UTF-8)",
        "1 skipped (pipe or device)",
        "4 skipped (malformed JSONL record)",
        "1 skipped (JSONL record without text)",
        "index holds 3 files",
    ]:
        assert part in summary
    with IndexStore.open(tmp_path / "idx") as store:
        texts = {text for *_, text in store.vectors_by_chunk()}
    assert any("\u2028 line separator" in t for t in texts)  # U+2028 is text, not a line break
    assert any(t.startswith("[[[[") for t in texts)


# ----- 6. nothing reaches the terminal raw -----


def test_control_characters_in_names_and_texts_never_reach_the_terminal(tmp_path, tiny_models, capsys):
    evil = "\x1b]52;c;cm0gLXJmIH4=\x07\x1b[2J\x1b[31mcapital\x1b[0m\r\n1. 1.0000  /etc/forged:1-1\u202e\x9b"
    folder = make_folder(tmp_path / "docs", {f"evil\x1b[31m\nname{i}.txt": evil for i in range(2)})
    assert index(folder, tmp_path / "idx", tiny_models.embedding) == 0
    capsys.readouterr()
    assert main(["search", "capital", "--index", str(tmp_path / "idx"), "--no-rerank"]) == 0
    out = capsys.readouterr()
    for stream in (out.out, out.err):
        assert not any(ch in stream for ch in "\x1b\x07\r\u202e\x9b")
    lines = out.out.splitlines()
    # Result lines and indented snippets alternate: the forged "1. 1.0000 /etc/forged" stays inside a snippet.
    assert [line.split(" ")[0] for line in lines[::2]] == [f"{n}." for n in range(1, len(lines) // 2 + 1)]
    assert all(line.startswith("   ") for line in lines[1::2]) and len(lines) >= 4
    assert "\\x1b[31m" in lines[0] and "\\n" in lines[0]

    assert search_json(tmp_path / "idx") == 0
    raw = capsys.readouterr().out
    assert raw.endswith("\n") and raw[:-1].isprintable()  # one line, every control character escaped
    results = json.loads(raw)["results"]
    assert all(r["text"] in evil for r in results) and any("\x1b" in r["text"] for r in results)  # exact text
    assert {r["path"] for r in results} == {str(folder / f"evil\x1b[31m\nname{i}.txt") for i in range(2)}


# ----- 7. hybrid recall and the ANN index -----


def test_hybrid_recall_fuses_full_text_and_vector_ranks(tmp_path, tiny_models, embedder, capsys):
    words = "alpha beta gamma delta kernel index vector search rerank query document chunk token model".split()
    files = {f"doc{i:02d}.txt": " ".join(words[(i + j) % len(words)] for j in range(12)) for i in range(30)}
    files["needle.txt"] = "the zanzibar protocol rotates every key"
    folder = make_folder(tmp_path / "docs", files)
    index(folder, tmp_path / "idx", tiny_models.embedding)
    question = "zanzibar"
    with IndexStore.open(tmp_path / "idx") as store:
        chunks = store.vectors_by_chunk()
        by_vector = store.search(embedder.embed_queries([question])[0], 3)
    keys = list(chunks)
    similarity = np.stack(list(chunks.values())) @ embedder.embed_queries([question])[0]
    order = [keys[i] for i in np.argsort(-similarity, kind="stable")]
    assert [(h.path, h.text) for h in by_vector.hits] == [(k[0], k[3]) for k in order[:3]] and by_vector.exact
    needle_rank = [k[0] for k in order].index("docs/needle.txt")  # recorded from the folder holding the index
    assert needle_rank >= 3, "the needle must be missed by embedding recall for this test to mean anything"

    capsys.readouterr()
    assert (
        main(
            ["-q", "search", question, "--index", str(tmp_path / "idx"), "--no-rerank", "--json", "-k", "3", "--hybrid"]
        )
        == 0
    )
    answer = json.loads(capsys.readouterr().out)
    assert answer["hybrid"] and answer["exact"]
    # Reciprocal rank fusion of the two lists of 3: the only full-text hit and the vector top-1 tie at
    # 1/61 and are ordered by chunk id; the vector list's ranks 2 and 3 follow.
    fused = sorted(
        [(1 / 61, "docs/needle.txt#0"), (1 / 61, f"{order[0][0]}#0"), (1 / 62, f"{order[1][0]}#0")],
        key=lambda pair: (-pair[0], pair[1]),
    )
    assert [f"{r['path']}#0" for r in answer["results"]] == [str(tmp_path / key) for _, key in fused]


def test_a_large_index_gets_an_ann_index_and_search_says_so(tmp_path, tiny_models, embedder):
    from qwen3_rag.local_index import update_index
    from qwen3_rag.local_index.builder import index_settings

    words = "alpha beta gamma delta kernel index vector search rerank query document chunk token model".split()
    rng = random.Random(3)
    folder = make_folder(tmp_path / "docs", {f"doc{i:03d}.txt": " ".join(rng.choices(words, k=8)) for i in range(300)})
    settings = index_settings(embedder, 32, 8, "text")
    with IndexStore.create_or_open(tmp_path / "idx", settings) as store:
        update_index(store, [folder], embedder, chunk_tokens=32, overlap=8, progress=False, vector_index_from=256)
        query = embedder.embed_queries(["kernel search"])[0]
        found = store.search(query, 10)
        chunks = store.vectors_by_chunk()
    assert not found.exact
    best = max(chunks.items(), key=lambda item: float(item[1] @ query))
    assert (found.hits[0].path, found.hits[0].text) == (best[0][0], best[0][3])  # refined on full vectors
    assert [h.score for h in found.hits] == sorted((h.score for h in found.hits), reverse=True)


# ----- 4. readers never see a half state -----

WRITER = """
import os, sys
from pathlib import Path
from qwen3_rag.cli import main
folder, index, model = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
for round in range(3):  # each run replaces, deletes and adds files, then compacts and re-indexes
    for n, path in enumerate(sorted(folder.glob("*.md"))):
        if n % 3 == round:
            path.write_text(path.read_text() + f" edited in round {round}")
        elif n % 7 == round:
            path.unlink()
    (folder / f"added-{round}.md").write_text(f"capital city added in round {round}")
    assert main(["-q", "index", str(folder), "--index", index, "--embedding-model", model, "--device", "cpu",
                 "--chunk-tokens", "32", "--overlap", "0"]) == 0
"""


@pytest.mark.slow
def test_searches_while_a_writer_indexes_and_compacts_each_answer_from_one_committed_version(
    tmp_path, tiny_models, embedder
):
    rng = random.Random(5)
    words = "capital city river mountain key rotate service cache queue search".split()
    folder = make_folder(tmp_path / "docs", {f"doc{i:03d}.md": " ".join(rng.choices(words, k=60)) for i in range(150)})
    index_dir = tmp_path / "idx"
    assert (
        main(
            [
                "-q",
                "index",
                str(folder),
                "--index",
                str(index_dir),
                "--embedding-model",
                tiny_models.embedding,
                "--device",
                "cpu",
                "--chunk-tokens",
                "32",
                "--overlap",
                "0",
            ]
        )
        == 0
    )
    query = embedder.embed_queries(["capital city"])[0]
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(folder), str(index_dir), tiny_models.embedding])
    seen: dict[tuple[int, bool], list[tuple[str, str, float]]] = {}
    searches = 0
    while writer.poll() is None or searches == 0:
        with IndexStore.open(index_dir) as store:  # never an error, whatever the writer is doing
            found = store.search(query, 5, text="capital city" if searches % 2 else None)
        answer = [(h.path, h.text, h.score) for h in found.hits]
        assert seen.setdefault((found.version, found.hybrid), answer) == answer
        searches += 1
    assert writer.wait() == 0
    versions = {version for version, _ in seen}
    assert len(versions) >= 5, f"the reader must catch the writer mid-run to mean anything ({versions})"
    for (version, hybrid), answer in seen.items():  # each answer is that committed version's answer
        with IndexStore.open(index_dir, version=version) as store:
            again = store.search(query, 5, text="capital city" if hybrid else None)
        assert [(h.path, h.text, h.score) for h in again.hits] == answer


def test_an_index_folder_inside_the_indexed_folder_is_not_indexed(tmp_path, tiny_models):
    folder = make_folder(tmp_path / "docs")
    for _ in range(2):  # the second run would find the first run's files (manifests, .json hints)
        assert index(folder, folder / "my-index", tiny_models.embedding) == 0
    assert indexed_paths(folder / "my-index") == {str(folder / name) for name in TEXTS}
