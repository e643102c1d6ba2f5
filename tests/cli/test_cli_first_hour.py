"""A new user's first hour with the command line (issue 35): progress bars only on a terminal, an index
bar counted in tokens, scores named in `search --json`, similarities within [-1, 1], usage errors of the
command at fault, errors before torch, rebuild hints naming real folders, and `qwen3-rag models`."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest
from index_helpers import index, make_folder
from source_tree import BEIR_TINY
from test_cli_index import FILES, write_tree
from test_cli_startup import imported_by, running

from qwen3_rag.cli import main
from qwen3_rag.errors import LocalIndexError
from qwen3_rag.local_index import IndexStore
from qwen3_rag.registry import KNOWN_CHECKPOINTS

TERMINAL_COLUMNS = 160


def on_a_terminal(argv: list[str]) -> str:
    """What a terminal shows while the command line runs `argv` in a child process with stderr on a pty."""
    ours, theirs = pty.openpty()
    fcntl.ioctl(theirs, termios.TIOCSWINSZ, struct.pack("HHHH", 24, TERMINAL_COLUMNS, 0, 0))
    with subprocess.Popen(
        [sys.executable, "-c", running(argv)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=theirs
    ) as child:
        os.close(theirs)
        shown = []
        while True:
            try:
                data = os.read(ours, 65536)
            except OSError:  # EIO: the child closed its end
                break
            if not data:
                break
            shown.append(data)
        assert child.wait(timeout=300) == 0
    os.close(ours)
    return b"".join(shown).decode("utf-8", "replace")


def stderr_and_imports(argv: list[str], tmp_path: Path) -> tuple[str, set[str]]:
    """The command line's stderr for `argv`, run in a fresh interpreter, and the heavy libraries it imported."""
    err = tmp_path / "stderr.txt"
    code = f"import contextlib\nwith open({str(err)!r}, 'w') as err, contextlib.redirect_stderr(err):\n    "
    loaded = imported_by(code + running(argv).replace("\n", "\n    "))
    return err.read_text(), loaded


# ----- 1. no progress bar off a terminal -----


def test_no_command_draws_a_bar_into_a_redirected_stderr(tiny_models, tmp_path, capsys):
    (tmp_path / "texts.txt").write_text("one\ntwo\nthree\n")
    (tmp_path / "pairs.jsonl").write_text('{"query": "q", "document": "d"}\n')
    model = ["--device", "cpu"]
    runs = [
        [
            "embed",
            str(tmp_path / "texts.txt"),
            "-o",
            str(tmp_path / "out.npy"),
            "--embedding-model",
            tiny_models.embedding,
        ],
        [
            "rerank",
            str(tmp_path / "pairs.jsonl"),
            "-o",
            str(tmp_path / "out.jsonl"),
            "--reranker-model",
            tiny_models.reranker,
        ],
        ["eval", str(BEIR_TINY), "--embedding-model", tiny_models.embedding, "--reranker-model", tiny_models.reranker],
    ]
    for argv in runs:
        assert main([*argv, *model]) == 0
        err = capsys.readouterr().err
        assert "\r" not in err and "Embedding" not in err and "Reranking" not in err, argv  # stderr is no terminal
        assert err.strip(), argv  # the summary line stays


# ----- 2. the index bar counts the tokens embedded -----


def test_the_index_bar_counts_the_tokens_it_embeds(tiny_models, tmp_path):
    folder = make_folder(
        tmp_path / "docs", {f"n{i}.txt": f"note {i}: the key is rotated weekly\n" * (i + 1) for i in range(4)}
    )
    argv = ["index", str(folder), "--index", str(tmp_path / "idx"), "--embedding-model", tiny_models.embedding]
    shown = on_a_terminal([*argv, "--device", "cpu"])
    tokens = re.search(r"embedded (\d+) tokens at", shown)
    assert tokens is not None, shown
    frames = [frame for frame in re.split(r"[\r\n]+", shown) if frame.startswith("Indexing")]
    assert frames, shown  # a terminal gets the bar
    last = frames[-1]
    assert f"{tokens[1]}/{tokens[1]}" in last and "token/s" in last and "100%" in last, last


# ----- 3. search --json names each score, and `score` follows the order -----


def test_hybrid_search_json_scores_agree_with_the_order(tiny_models, tmp_path, capsys):
    folder = write_tree(tmp_path / "docs", FILES)
    assert index(folder, tmp_path / "idx", tiny_models.embedding) == 0
    search = ["-q", "search", "rotate the keys", "--index", str(tmp_path / "idx"), "--hybrid", "--json", "-k", "8"]
    capsys.readouterr()
    assert main([*search, "--no-rerank"]) == 0
    fused = json.loads(capsys.readouterr().out)
    assert main([*search, "--reranker-model", tiny_models.reranker, "--device", "cpu", "-n", "8"]) == 0
    reranked = json.loads(capsys.readouterr().out)
    for answer, ordered_by in ((fused, "fused"), (reranked, "probability")):
        results = answer["results"]
        assert answer["ordered_by"] == ordered_by and len(results) > 2
        scores = [result["score"] for result in results]
        assert scores == sorted(scores, reverse=True) and scores == [result[ordered_by] for result in results]
        assert all(-1 <= result["similarity"] <= 1 and result["fused"] > 0 for result in results)
    assert all(result["probability"] is None for result in fused["results"])
    assert all(0 <= result["probability"] <= 1 for result in reranked["results"])


# ----- 4. a similarity stays within [-1, 1] on a binary index -----


def test_a_binary_index_never_reports_a_similarity_above_one(tiny_models, tmp_path, capsys):
    texts = [
        f"The {word} service restarts when its key is rotated"
        for word in ("auth", "billing", "mail", "cache", "queue", "web")
    ]
    folder = make_folder(
        tmp_path / "docs", {f"{i}.txt": text for i, text in enumerate(texts)}
    )  # no newline: chunk == text
    # A symmetric task embeds a question like a document: each text finds itself, at a similarity of 1.
    extra = ["--precision", "binary", "--instruction", "semantic_similarity"]
    assert index(folder, tmp_path / "idx", tiny_models.embedding, *extra) == 0
    capsys.readouterr()
    for text in texts:
        assert main(["-q", "search", text, "--index", str(tmp_path / "idx"), "--no-rerank", "--json", "-k", "2"]) == 0
        results = json.loads(capsys.readouterr().out)["results"]
        assert results[0]["text"] == text and results[0]["similarity"] == pytest.approx(1, abs=1e-2)
        assert all(-1 <= result["similarity"] <= 1 for result in results), results


# ----- 5. a mistyped option is the command's usage error, with a suggestion -----


def test_an_unknown_option_after_a_command_shows_its_usage_and_the_closest_option(capsys):
    with pytest.raises(SystemExit) as exit_status:
        main(["search", "x", "--top_k", "3"])
    err = capsys.readouterr().err
    assert exit_status.value.code == 2
    assert err.startswith("usage: qwen3-rag search ") and "did you mean --top-k?" in err
    with pytest.raises(SystemExit) as exit_status:
        main(["index", "docs", "--zzz\x1b[2J"])
    err = capsys.readouterr().err
    assert exit_status.value.code == 2 and err.startswith("usage: qwen3-rag index ")
    assert "unrecognized arguments: --zzz\\x1b[2J" in err and "did you mean" not in err  # escaped; none is close


# ----- 6. errors that need no model come before torch -----


def test_errors_without_a_model_come_before_torch_is_imported(tmp_path):
    (tmp_path / "texts.txt").write_text("one\n")
    cases = {
        "DIR '{0}/missing' is not a folder (it does not exist)": ["index", "{0}/missing", "--index", "{0}/idx"],
        "--embedding-model '{0}/no-model' is not an existing folder": [
            "embed",
            "{0}/texts.txt",
            "--embedding-model",
            "{0}/no-model",
        ],
        "no index at '{0}/none'": ["search", "q", "--index", "{0}/none"],
    }
    for message, argv in cases.items():
        err, loaded = stderr_and_imports([word.format(tmp_path) for word in argv], tmp_path)
        assert message.format(tmp_path) in err, err
        assert "torch" not in loaded and "lancedb" not in loaded, (argv, loaded)


# ----- 7. the rebuild hint names the user's folders -----


def test_the_rebuild_hint_names_the_real_folders(tiny_models, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    make_folder(tmp_path / "docs")
    make_folder(tmp_path / "notes", {"a.md": "Rotate the keys monthly."})
    assert main(["-q", "index", "docs", "notes", "--embedding-model", tiny_models.embedding, "--device", "cpu"]) == 0
    expected = "rebuild it with: qwen3-rag index 'docs' 'notes' --index '.qwen3-rag' --rebuild"
    for argv in (["index", "docs", "notes", "--dim", "32"], ["search", "q", "--dim", "32", "--no-rerank"]):
        assert main(["-q", *argv, "--embedding-model", tiny_models.embedding, "--device", "cpu"]) == 1
        err = capsys.readouterr().err
        assert "built with other settings" in err and expected in err, err  # given, then recorded folders
        assert "DIR" not in err and "in Python" not in err
    python_hint = r"use the index's settings, or rebuild it \(rebuild=True\)$"
    with pytest.raises(LocalIndexError, match=python_hint), IndexStore.open(".qwen3-rag") as store:
        store.check_settings({"dim": 32})  # the Python API words its fix for Python


# ----- 8. --batch-tokens says what it counts -----


def test_batch_tokens_help_says_packed_batches_count_real_tokens(capsys):
    with pytest.raises(SystemExit):
        main(["embed", "--help"])
    shown = " ".join(capsys.readouterr().out.split())
    assert "--batch-tokens BATCH_TOKENS token budget of one forward pass: the texts' lengths summed" in shown
    assert "packed without padding (CPU;" in shown and "padded tokens per forward pass" not in shown


# ----- 9. qwen3-rag models -----


def test_models_lists_the_known_checkpoints_without_torch(tmp_path, capsys):
    out = tmp_path / "models.json"
    code = f"import contextlib\nwith open({str(out)!r}, 'w') as out, contextlib.redirect_stdout(out):\n    "
    assert not {"torch", "lancedb"} & imported_by(code + running(["models", "--json"]).replace("\n", "\n    "))
    listed = json.loads(out.read_text())
    assert [row["name"] for row in listed] == list(KNOWN_CHECKPOINTS)
    for row in listed:
        known = KNOWN_CHECKPOINTS[row["name"]]
        assert (row["kind"], row["hidden_size"], row["layers"]) == (known.kind, known.hidden_size, known.layers)
        assert row["dims"] == ([32, known.hidden_size] if known.kind == "embedding" else None)
    assert main(["models"]) == 0
    header, *rows = capsys.readouterr().out.splitlines()
    assert re.match(r"name +kind +hidden size +.*dims +default$", header)
    assert [row.split()[0] for row in rows] == list(KNOWN_CHECKPOINTS)
    assert rows[0].split()[-2:] == ["32..1024", "yes"]  # the default embedding model, and the sizes --dim takes
