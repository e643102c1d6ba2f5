"""`qwen3-rag index` and `qwen3-rag search`: parity with the core, incremental updates, crash safety."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from index_helpers import index  # the one way the index tests call `qwen3-rag index`

from qwen3_rag.cli import main
from qwen3_rag.errors import LocalIndexError
from qwen3_rag.local_index import IndexStore, Section, chunk_section
from qwen3_rag.tokenization import plain_text_tokenizer

GUIDE = "\n".join(
    f"Line {n}: the {word} service restarts when its key is rotated, and logs go to /var/log/{word}."
    for n, word in enumerate(["auth", "billing", "search", "mail", "cache", "queue", "api", "web"] * 3, start=1)
)
FILES = {
    "guide.md": GUIDE,
    "notes.txt": "Beijing is the capital of China.\nParis is the capital of France.\n",
    "code/fib.py": "def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n",
    "faq.jsonl": (
        '{"text": "How do I rotate keys? Run rotate."}\n{"title": "no text here"}\n{"text": "東京は日本の首都です。"}\n'
    ),
    "empty.md": "",
}


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return root


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    root = write_tree(tmp_path / "docs", FILES)
    (root / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0")  # not a text type: ignored
    (root / "blob.txt").write_bytes(b"text then \0 binary")  # a text name with binary content: skipped
    (root / "latin1.md").write_bytes("caf\xe9".encode("latin-1"))  # not UTF-8: skipped as binary
    (root / "bad.jsonl").write_text("{not json\n")  # unreadable
    (root / ".hidden.md").write_text("hidden files are not indexed")
    return root


def run(*argv: str) -> int:
    return main(["-q", *argv]) if "--json" in argv else main(list(argv))


def stored(index_dir: Path) -> dict:
    with IndexStore.open(index_dir) as store:
        return store.vectors_by_chunk()


def test_chunks_are_verbatim_overlapping_windows_with_line_ranges(embedder):
    tokenizer = plain_text_tokenizer(embedder.model.tokenizer)
    section = Section(GUIDE, first_line=1)
    plain = chunk_section(section, tokenizer, chunk_tokens=40, overlap=0)
    assert "".join(c.text for c in plain) == GUIDE  # no overlap: the windows tile the text exactly
    for chunk in chunk_section(section, tokenizer, chunk_tokens=40, overlap=10):
        # Edges move back to word starts by up to 40 // 8 tokens; re-tokenizing a slice may add one more.
        assert len(tokenizer.encode(chunk.text).ids) <= 40 + 5 + 1
        start = GUIDE.index(chunk.text)
        assert start == 0 or chunk.text[0].isspace() or GUIDE[start - 1].isspace()  # never mid-word
        assert chunk.start_line == GUIDE[:start].count("\n") + 1
        assert chunk.end_line == GUIDE[: start + len(chunk.text.rstrip("\n"))].count("\n") + 1
    overlapping = chunk_section(section, tokenizer, chunk_tokens=40, overlap=10)
    assert len(overlapping) > len(plain)
    assert all(a.text[-10:] in b.text for a, b in zip(overlapping, overlapping[1:], strict=False))
    record = chunk_section(Section("one\ntwo\nthree", first_line=7, one_line=True), tokenizer, 40, 0)
    assert [(c.start_line, c.end_line) for c in record] == [(7, 7)]  # a JSONL record points at its line
    assert chunk_section(Section(" \n\t", 1), tokenizer, 40, 0) == []


def test_index_stores_the_cores_document_vectors(folder, tmp_path, tiny_models, embedder, capsys):
    assert index(folder, tmp_path / "idx", tiny_models.embedding) == 0
    summary = capsys.readouterr().err.strip().splitlines()[-1]
    assert summary.startswith("6 files indexed (")  # guide, notes, fib, faq, empty, bad (one good record)
    for part in [
        "2 skipped (binary)",
        "1 skipped (malformed JSONL record)",
        "1 skipped (JSONL record without text)",
        "1 file of other types ignored",
        "index holds 6 files",
    ]:
        assert part in summary
    chunks = stored(tmp_path / "idx")
    texts = [key[3] for key in chunks]
    expected = embedder.embed_documents(texts)  # documents: no instruction
    np.testing.assert_allclose(np.stack(list(chunks.values())), expected, rtol=0, atol=1e-6)
    assert {(s, e) for path, s, e, _ in chunks if path.endswith("faq.jsonl")} == {(1, 1), (3, 3)}
    assert max(e for path, _, e, _ in chunks if path.endswith("guide.md")) == 24
    assert not any(".hidden" in path for path, *_ in chunks)


def test_search_reranks_the_embedding_candidates_like_the_core(
    folder, tmp_path, tiny_models, embedder, reranker, capsys, monkeypatch
):
    index(folder, tmp_path / "idx", tiny_models.embedding)
    monkeypatch.chdir(tmp_path)  # paths print from here as recorded: relative to the folder holding the index
    capsys.readouterr()
    question = "How do I rotate the keys?"
    assert (
        run(
            "search",
            question,
            "--index",
            str(tmp_path / "idx"),
            "--reranker-model",
            tiny_models.reranker,
            "--device",
            "cpu",
            "-n",
            "6",
            "-k",
            "3",
            "--json",
        )
        == 0
    )
    answer = json.loads(capsys.readouterr().out)

    chunks = stored(tmp_path / "idx")
    keys = list(chunks)
    similarity = np.stack(list(chunks.values())) @ embedder.embed_queries([question])[0]
    candidates = [keys[i] for i in np.argsort(-similarity, kind="stable")[:6]]
    ranked = reranker.rerank(question, [key[3] for key in candidates], top_k=3)
    assert [(r["path"], r["start_line"], r["end_line"], r["text"]) for r in answer["results"]] == [
        candidates[r.index] for r in ranked
    ]
    assert [r["score"] for r in answer["results"]] == pytest.approx([r.score for r in ranked], abs=1e-6)
    assert [r["rank"] for r in answer["results"]] == [1, 2, 3]

    assert run("search", question, "--index", str(tmp_path / "idx"), "--no-rerank", "-k", "2", "--json") == 0
    plain = json.loads(capsys.readouterr().out)["results"]
    assert [(r["path"], r["text"]) for r in plain] == [(c[0], c[3]) for c in candidates[:2]]
    assert [r["similarity"] for r in plain] == pytest.approx(sorted(similarity, reverse=True)[:2], abs=1e-6)

    assert run("search", question, "--index", str(tmp_path / "idx"), "--no-rerank", "-k", "2") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("1. ") and f":{plain[0]['start_line']}-{plain[0]['end_line']}" in lines[0]


def test_reindexing_follows_edits_deletions_and_additions(folder, tmp_path, tiny_models, capsys):
    index(folder, tmp_path / "idx", tiny_models.embedding)
    (folder / "notes.txt").write_text("Rome is the capital of Italy.\n")
    (folder / "code" / "fib.py").unlink()
    write_tree(folder, {"new/added.rst": "Added later\n===========\n\nA new page about the cache service."})
    os.utime(folder / "guide.md")  # touched, same bytes: not embedded again
    capsys.readouterr()
    assert index(folder, tmp_path / "idx", tiny_models.embedding) == 0
    summary = capsys.readouterr().err.strip().splitlines()[-1]
    assert summary.startswith("2 files indexed") and "4 unchanged" in summary and "1 removed" in summary

    fresh = tmp_path / "fresh"
    index(folder, fresh, tiny_models.embedding)
    updated, rebuilt = stored(tmp_path / "idx"), stored(fresh)
    assert updated.keys() == rebuilt.keys()
    for key, vector in rebuilt.items():
        np.testing.assert_allclose(updated[key], vector, rtol=0, atol=1e-6)
    assert not any(path.endswith("fib.py") for path, *_ in updated)


def test_repeated_changes_are_compacted_and_equal_a_fresh_build(folder, tmp_path, tiny_models):
    index(folder, tmp_path / "idx", tiny_models.embedding)
    for version in range(3):
        for name in ["guide.md", "notes.txt"]:
            (folder / name).write_text(f"version {version} of {name}\n" + FILES[name])
        index(folder, tmp_path / "idx", tiny_models.embedding)
    with IndexStore.open(tmp_path / "idx") as store:  # optimize() merged each run's small commits
        assert store.chunks.stats()["fragment_stats"]["num_fragments"] <= 2  # 4 commits of new chunks
        assert store.chunk_count() == len(stored(tmp_path / "idx"))
    fresh = tmp_path / "fresh"
    index(folder, fresh, tiny_models.embedding)
    updated, rebuilt = stored(tmp_path / "idx"), stored(fresh)
    assert updated.keys() == rebuilt.keys()
    for key, vector in rebuilt.items():
        np.testing.assert_allclose(updated[key], vector, rtol=0, atol=1e-6)


def test_an_index_refuses_other_models_and_dimensions(folder, tmp_path, tiny_models, capsys):
    index(folder, tmp_path / "idx", tiny_models.embedding, "--dim", "32")
    capsys.readouterr()
    assert run("search", "q", "--index", str(tmp_path / "idx"), "--dim", "48", "--no-rerank") == 1
    err = capsys.readouterr().err
    assert "dim: index has 32, asked for 48" in err and "Traceback" not in err
    assert index(folder, tmp_path / "idx", tiny_models.embedding_plain_tokenizer) == 1
    assert "holds vectors of a local checkpoint (fingerprint sha256:" in capsys.readouterr().err
    assert index(folder, tmp_path / "idx", tiny_models.embedding, "--chunk-tokens", "64") == 1
    assert "chunk_tokens: index has 32, asked for 64" in capsys.readouterr().err
    assert index(folder, tmp_path / "idx", tiny_models.embedding, "--chunk-tokens", "64", "--rebuild") == 0
    with IndexStore.open(tmp_path / "idx") as store:
        assert store.settings["chunk_tokens"] == 64 and store.settings["dim"] == 64
    # The query instruction is free in an asymmetric index: documents never saw it.
    assert (
        run("search", "q", "--index", str(tmp_path / "idx"), "--no-rerank", "--instruction", "code_search", "--json")
        == 0
    )
    assert len(json.loads(capsys.readouterr().out)["results"]) == 5


def test_one_writer_at_a_time(folder, tmp_path, tiny_models, capsys):
    index(folder, tmp_path / "idx", tiny_models.embedding)
    with IndexStore.open(tmp_path / "idx") as reader:
        settings = dict(reader.settings)
    settings.pop("format_version")
    with IndexStore.create_or_open(tmp_path / "idx", settings):
        capsys.readouterr()
        assert index(folder, tmp_path / "idx", tiny_models.embedding) == 1
        assert "another qwen3-rag process is writing" in capsys.readouterr().err
        assert run("search", "q", "--index", str(tmp_path / "idx"), "--no-rerank") == 0  # readers go on


def _corpus_of_many_files(root: Path, count: int) -> Path:
    words = "alpha beta gamma delta kernel index vector search rerank query document chunk token model".split()
    rng = random.Random(7)
    for n in range(count):
        text = "\n".join(" ".join(rng.choices(words, k=12)) for _ in range(25))
        (root / f"part-{n // 100}").mkdir(parents=True, exist_ok=True)
        (root / f"part-{n // 100}" / f"doc-{n:04d}.md").write_text(text)
    return root


def _indexed_files(index_dir: Path) -> int:
    try:
        with IndexStore.open(index_dir) as store:
            return store.file_count()
    except LocalIndexError:
        return 0


@pytest.mark.slow
def test_indexing_killed_at_random_points_leaves_a_searchable_index_and_a_rerun_completes_it(tmp_path, tiny_models):
    folder = _corpus_of_many_files(tmp_path / "many", 1500)
    command = [
        sys.executable,
        "-m",
        "qwen3_rag",
        "-q",
        "index",
        str(folder),
        "--embedding-model",
        tiny_models.embedding,
        "--device",
        "cpu",
        "--chunk-tokens",
        "128",
        "--overlap",
        "16",
    ]
    killed, rng = tmp_path / "killed", random.Random(11)
    for _ in range(3):  # each kill lands at a random moment of a run that resumes the last one
        process = subprocess.Popen([*command, "--index", str(killed)], stderr=subprocess.PIPE)
        deadline = time.monotonic() + 300
        while _indexed_files(killed) == 0 and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(rng.uniform(0.0, 1.5))
        process.send_signal(signal.SIGKILL)
        process.wait()
        with IndexStore.open(killed) as store:  # opens and searches as it stands
            assert len(store.search(np.ones(64, dtype=np.float32) / 8, 3).hits) == 3
    assert _indexed_files(killed) < 1500, "a kill must land part-way for this test to mean anything"
    assert subprocess.run([*command, "--index", str(killed)], capture_output=True).returncode == 0
    uninterrupted = tmp_path / "uninterrupted"
    assert subprocess.run([*command, "--index", str(uninterrupted)], capture_output=True).returncode == 0

    resumed, reference = stored(killed), stored(uninterrupted)
    assert resumed.keys() == reference.keys()  # every chunk once: nothing lost, nothing doubled
    with IndexStore.open(killed) as store:
        assert store.chunk_count() == len(reference) and store.file_count() == 1500
    for key, vector in reference.items():
        np.testing.assert_allclose(resumed[key], vector, rtol=0, atol=1e-6)


def test_python_dash_m_and_the_console_script(tmp_path):
    result = subprocess.run([sys.executable, "-m", "qwen3_rag", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "index" in result.stdout and "eval" in result.stdout
    script = Path(sys.executable).with_name("qwen3-rag")
    result = subprocess.run(
        [str(script), "search", "q", "--index", str(tmp_path / "none")], capture_output=True, text=True
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"qwen3-rag: error: no index at '{tmp_path / 'none'}'; build one with: "
        f"qwen3-rag index DIR --index '{tmp_path / 'none'}'"
    )


def test_debug_shows_the_traceback(tmp_path, capsys):
    with pytest.raises(Exception, match="no index at"):
        main(["--debug", "search", "q", "--index", str(tmp_path / "none")])


def test_bad_arguments_name_the_option(folder, tmp_path, tiny_models, capsys):
    index(folder, tmp_path / "idx", tiny_models.embedding)
    capsys.readouterr()
    assert run("search", "q", "--index", str(tmp_path / "idx"), "-k", "0") == 1
    assert "--top-k=0 must be an integer >= 1" in capsys.readouterr().err
    assert run("search", "q", "--index", str(tmp_path / "idx"), "-k", "9", "-n", "4") == 1
    assert "--candidates=4 must be at least --top-k=9" in capsys.readouterr().err
    assert run("index", str(tmp_path / "missing"), "--index", str(tmp_path / "idx")) == 1
    assert "is not a folder" in capsys.readouterr().err
    assert index(folder, tmp_path / "other", tiny_models.embedding, "--overlap", "32") == 1
    assert "overlap=32 must be an integer from 0 to chunk_tokens - 1 (31)" in capsys.readouterr().err
    assert not (tmp_path / "other").exists()  # refused before anything was written


def test_an_index_killed_before_its_first_commit_is_completed(folder, tmp_path, tiny_models, capsys):
    """The first crash window: the table folder made, no version committed yet."""
    index(folder, tmp_path / "reference", tiny_models.embedding)
    expected = stored(tmp_path / "reference").keys()
    index_dir = tmp_path / "idx"
    (index_dir / "chunks.lance" / "_versions").mkdir(parents=True)
    (index_dir / "chunks.lance" / "_transactions").mkdir()
    assert index(folder, index_dir, tiny_models.embedding) == 0
    assert stored(index_dir).keys() == expected


def test_a_symmetric_index_keeps_its_task_across_runs(folder, tmp_path, tiny_models, capsys):
    assert index(folder, tmp_path / "idx", tiny_models.embedding, "--instruction", "semantic_similarity") == 0
    (folder / "notes.txt").write_text("Rome is the capital of Italy.\n")
    assert index(folder, tmp_path / "idx", tiny_models.embedding) == 0  # no flags: the index's own task
    from qwen3_rag import Embedder

    symmetric = Embedder(tiny_models.embedding, device="cpu", instruction="semantic_similarity")
    chunks = stored(tmp_path / "idx")
    np.testing.assert_allclose(
        np.stack(list(chunks.values())), symmetric.embed_documents([k[3] for k in chunks]), rtol=0, atol=1e-6
    )  # documents carry the instruction, as STS does
    capsys.readouterr()
    assert run("search", "q", "--index", str(tmp_path / "idx"), "--no-rerank", "--instruction", "web_search") == 1
    assert "instruction: index has 'Retrieve semantically similar text'" in capsys.readouterr().err


def test_shared_options_work_after_the_command_name_too(folder, tmp_path, tiny_models, capsys):
    index(folder, tmp_path / "idx", tiny_models.embedding)
    capsys.readouterr()
    assert main(["search", "capital", "--index", str(tmp_path / "idx"), "--no-rerank", "-q"]) == 0
    assert capsys.readouterr().err == ""  # no summary line: -q after the name counts
    with pytest.raises(Exception, match="no index at"):
        main(["search", "q", "--index", str(tmp_path / "none"), "--debug"])


def test_the_summary_states_the_throughput_and_a_log_gets_no_bar(tmp_path, tiny_models, capsys):
    folder = tmp_path / "docs"
    folder.mkdir()
    for i in range(3):
        (folder / f"n{i}.txt").write_text(f"note {i} about the capital of China\n" * 5)
    assert (
        main(
            [
                "index",
                str(folder),
                "--index",
                str(tmp_path / "idx"),
                "--embedding-model",
                tiny_models.embedding,
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    err = capsys.readouterr().err
    summary = err.strip().splitlines()[-1]
    assert "3 files indexed" in summary and "tokens at" in summary and "tokens/s); search reranks with " in summary
    assert "\r" not in err and "Indexing" not in err  # stderr is not a terminal here
