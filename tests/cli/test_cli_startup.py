"""Start-up of the command line: what each command imports, and the index opened in a helper process.

Importing torch or LanceDB takes seconds on a small CPU, so `--help` needs neither, `embed` needs
no LanceDB, and `search` imports LanceDB in a helper process beside torch's import (issue 16).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import qwen3_rag
import qwen3_rag.local_index
from qwen3_rag.cli import main
from qwen3_rag.errors import InvalidArgumentError, LocalIndexError
from qwen3_rag.local_index import IndexStore
from qwen3_rag.local_index.reader import IndexReader

HEAVY = ("torch", "lancedb", "transformers", "httpx", "pandas")


def imported_by(code: str) -> set[str]:
    """The heavy libraries a fresh interpreter has imported after running `code`."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(set({HEAVY!r}) & set(sys.modules))))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout.splitlines()[-1]))


def running(argv: list[str]) -> str:
    """Code that runs the command line in-process, as the console script does, and goes on."""
    return f"from qwen3_rag.cli import main\ntry:\n    main({argv!r})\nexcept SystemExit:\n    pass"


@pytest.fixture(scope="module")
def built_index(tiny_models, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("startup")
    (root / "docs").mkdir()
    for i in range(6):
        (root / "docs" / f"note{i}.md").write_text(f"# Note {i}\nThe key for service {i} is rotated weekly.\n")
    assert (
        main(
            [
                "index",
                str(root / "docs"),
                "--index",
                str(root / "idx"),
                "--embedding-model",
                str(tiny_models.embedding),
                "--reranker-model",
                str(tiny_models.reranker),
                "-q",
            ]
        )
        == 0
    )
    return root / "idx"


def test_importing_the_package_imports_no_heavy_library():
    assert imported_by("import qwen3_rag, qwen3_rag.local_index, qwen3_rag.cli, qwen3_rag.errors") == set()


def test_exported_names_are_the_classes_once_used():
    from qwen3_rag.embedder import Embedder
    from qwen3_rag.local_index.builder import update_index
    from qwen3_rag.remote import RemoteEmbedder, RemoteReranker
    from qwen3_rag.reranker import Ranked, Reranker

    assert (qwen3_rag.Embedder, qwen3_rag.Reranker, qwen3_rag.Ranked) == (Embedder, Reranker, Ranked)
    assert (qwen3_rag.RemoteEmbedder, qwen3_rag.RemoteReranker) == (RemoteEmbedder, RemoteReranker)
    assert qwen3_rag.local_index.update_index is update_index and qwen3_rag.local_index.IndexStore is IndexStore
    assert set(qwen3_rag.__all__) <= set(dir(qwen3_rag))
    assert set(qwen3_rag.local_index.__all__) <= set(dir(qwen3_rag.local_index))
    with pytest.raises(AttributeError, match="module 'qwen3_rag' has no attribute 'Embeder'"):
        qwen3_rag.Embeder  # noqa: B018
    with pytest.raises(ImportError):
        exec("from qwen3_rag import Embeder")


def test_help_version_and_usage_errors_import_neither_torch_nor_lancedb():
    code = "\n".join(running(argv) for argv in (["--help"], ["--version"], ["search"], ["index", "--help"]))
    assert imported_by(code) == set()
    script = Path(sys.executable).with_name("qwen3-rag")
    result = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stdout) == (0, f"qwen3-rag {qwen3_rag.__version__}\n")


def test_embed_imports_no_lancedb(tiny_models, tmp_path):
    (tmp_path / "in.txt").write_text("one\ntwo\n")
    loaded = imported_by(
        running(
            [
                "embed",
                str(tmp_path / "in.txt"),
                "-o",
                str(tmp_path / "out.npy"),
                "--embedding-model",
                str(tiny_models.embedding),
                "-q",
            ]
        )
    )
    assert "torch" in loaded and "lancedb" not in loaded
    assert np.load(tmp_path / "out.npy").shape[0] == 2


def test_search_leaves_lancedb_to_the_helper_process(built_index, tmp_path):
    out = tmp_path / "results.json"
    code = f"import contextlib\nwith open({str(out)!r}, 'w') as out, contextlib.redirect_stdout(out):\n    " + running(
        ["search", "when is the key rotated", "--index", str(built_index), "--json", "-q"]
    ).replace("\n", "\n    ")
    loaded = imported_by(code)
    assert "torch" in loaded and "lancedb" not in loaded
    results = json.loads(out.read_text())["results"]
    assert len(results) == 5 and {r["path"].rsplit("/", 1)[-1] for r in results} <= {f"note{i}.md" for i in range(6)}


def test_the_reader_answers_as_the_store_does(built_index):
    rng = np.random.default_rng(0)
    with IndexStore.open(built_index) as store, IndexReader(built_index) as reader:
        assert reader.settings == store.settings
        for _ in range(3):
            query = rng.standard_normal(store.dim).astype(np.float32)
            query /= np.linalg.norm(query)
            assert reader.search(query, 4) == store.search(query, 4)
            assert reader.search(query, 6, text="rotated weekly") == store.search(query, 6, text="rotated weekly")
        with pytest.raises(InvalidArgumentError) as wrong_shape:
            reader.search(np.zeros(3, np.float32), 4)
        with pytest.raises(InvalidArgumentError) as expected:
            store.search(np.zeros(3, np.float32), 4)
        assert str(wrong_shape.value) == str(expected.value)
        with pytest.raises(LocalIndexError) as clash:
            reader.check_settings({"dim": 32})
        with pytest.raises(LocalIndexError) as expected_clash:
            store.check_settings({"dim": 32})
        assert str(clash.value) == str(expected_clash.value)
        reader.check_settings({"dim": store.dim})  # the same settings pass
        assert reader.search(query, 1) == store.search(query, 1)  # errors leave the helper answering


def test_the_reader_raises_what_opening_raised(tmp_path):
    with pytest.raises(LocalIndexError) as expected:
        IndexStore.open(tmp_path / "none")
    with IndexReader(tmp_path / "none") as reader:
        for _ in range(2):  # asked again, the same error, not a complaint about the ended helper
            with pytest.raises(LocalIndexError) as raised:
                reader.settings  # noqa: B018
            assert str(raised.value) == str(expected.value)
        with pytest.raises(LocalIndexError, match="no index at"):
            reader.search(np.zeros(32, np.float32), 1)


def test_the_helper_ignores_ctrl_c_ends_with_the_reader_and_a_dead_one_is_reported(built_index):
    with IndexReader(built_index) as reader:
        pid = reader.pid
        assert pid is not None and reader.settings["dim"] > 0
        os.kill(pid, signal.SIGINT)  # Ctrl-C reaches the whole process group; the command handles it
        time.sleep(0.5)
        query = np.ones(reader.settings["dim"], np.float32) / np.sqrt(reader.settings["dim"])
        assert len(reader.search(query, 2).hits) == 2
        os.kill(pid, signal.SIGKILL)
        with pytest.raises(LocalIndexError, match=r"the index reader stopped unexpectedly \(exit code -9\)"):
            reader.search(query, 2)
    with IndexReader(built_index) as reader:
        pid = reader.pid
        assert reader.settings
    assert reader.pid is None
    with pytest.raises(ProcessLookupError):  # ended and reaped, not left behind
        os.kill(pid, 0)


def test_the_console_script_exits_without_teardown_yet_delivers_all_output(built_index, tmp_path):
    """`run` ends the process with os._exit; what the command printed to a pipe must all arrive first."""
    in_process = subprocess.run(
        [sys.executable, "-c", running(["search", "key rotated", "--index", str(built_index), "--json"])],
        capture_output=True,
        text=True,
        timeout=300,
    )
    expected = json.loads(in_process.stdout)["results"]
    assert len(expected) == 5
    buffered = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # as a user's shell has it
    for argv in ([str(Path(sys.executable).with_name("qwen3-rag"))], [sys.executable, "-m", "qwen3_rag"]):
        result = subprocess.run(
            [*argv, "search", "key rotated", "--index", str(built_index), "--json"],
            capture_output=True,
            text=True,
            timeout=300,
            env=buffered,
        )
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["results"] == expected  # a block-buffered pipe, flushed before the exit
        assert "5 results from 6 candidates" in result.stderr
        failed = subprocess.run(
            [*argv, "search", "q", "--index", str(tmp_path / "none")], capture_output=True, text=True, timeout=300
        )
        assert failed.returncode == 1 and failed.stderr.startswith("qwen3-rag: error: no index at")


def test_a_script_without_a_main_guard_runs_search_once(built_index, tmp_path):
    """The helper is not multiprocessing's spawn, which would import the caller's script again."""
    script = tmp_path / "unguarded.py"
    script.write_text(
        "from qwen3_rag.cli import main\n"
        f"print('status', main(['search', 'key rotated', '--index', {str(built_index)!r}, '-k', '1', "
        "'-q']))\n"
    )
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and result.stderr == ""
    assert result.stdout.count("status") == 1 and result.stdout.rstrip().endswith("status 0")


def test_commands_silence_lancedbs_own_log_unless_the_user_set_it(tmp_path):
    """LanceDB reads LANCEDB_LOG (LANCE_LOG is its engine's): without it, building an IVF index printed
    thousands of WARN lines. A command sets both before LanceDB is imported; the user's values win."""
    probe = (
        "import os\nfrom qwen3_rag.cli import main\n"
        f"main(['-q', 'search', 'x', '--index', {str(tmp_path / 'none')!r}])\n"
        "print(os.environ.get('LANCEDB_LOG'), os.environ.get('LANCE_LOG'))"
    )
    environment = {k: v for k, v in os.environ.items() if k not in ("LANCEDB_LOG", "LANCE_LOG")}
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=environment, timeout=120)
    assert run.stdout.split() == ["error", "error"], run.stderr
    run = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=120,
        env={**environment, "LANCEDB_LOG": "debug"},
    )
    assert run.stdout.split() == ["debug", "error"], run.stderr


def test_the_package_and_help_do_not_import_numpy():
    """`import qwen3_rag` and `--help` stay at tens of milliseconds: NumPy alone adds about 70 ms, so the
    quantization helpers are exported on first use and the CLI's defaults live in NumPy-free modules."""
    code = "import qwen3_rag, qwen3_rag.cli\n" + running(["search", "--help"]) + "\n" + running(["index", "--help"])
    probe = f"{code}\nimport sys\nprint('numpy' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.stdout.splitlines()[-1] == "False", result.stderr
