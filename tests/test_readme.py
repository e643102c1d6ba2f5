"""Every Python block in the README runs, with the tiny local checkpoints in place of the hub models."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
ALL_BLOCKS = [textwrap.dedent(block) for block in re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)]
SERVED = "http://localhost:800"  # blocks that need vLLM servers run in test_remote.py, which starts them
BLOCKS = [block for block in ALL_BLOCKS if SERVED not in block]


def with_tiny_models(block: str, tiny_models) -> str:
    """A README block with the tiny local checkpoints in place of the hub models it names."""
    return block.replace("Qwen/Qwen3-Embedding-0.6B", tiny_models.embedding).replace(
        "Qwen/Qwen3-Reranker-0.6B", tiny_models.reranker
    )


def test_readme_has_a_block_per_framework():
    joined = "\n".join(BLOCKS)
    for module in (
        "qwen3_rag.integrations.langchain",
        "qwen3_rag.integrations.llama_index",
        "qwen3_rag.integrations.haystack",
    ):
        assert module in joined


@pytest.mark.slow
@pytest.mark.parametrize("block", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_readme_block_runs(block, tiny_models, tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", with_tiny_models(block, tiny_models)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]


SHELL_BLOCKS = re.findall(r"```bash\n(.*?)```", README.read_text(), flags=re.S)
COMMANDS = [line for block in SHELL_BLOCKS for line in block.splitlines() if line.startswith("qwen3-rag ")]


def test_readme_shows_every_cli_command():
    assert {line.split()[1] for line in COMMANDS} == {"index", "search", "embed", "rerank", "eval"}


@pytest.mark.slow
def test_readme_cli_commands_run_in_order(tiny_models, tmp_path):
    """Each `qwen3-rag ...` line of the README, as written, with the tiny models set through the environment."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "keys.md").write_text("# Keys\n\nRotate the keys with `vault rotate` every 90 days.\n")
    (tmp_path / "docs" / "intro.txt").write_text("This folder documents the service.\n")
    (tmp_path / "questions.txt").write_text("How do I rotate keys?\nWhat is this folder?\n")
    (tmp_path / "pairs.jsonl").write_text('{"query": "rotate keys", "document": "Use vault rotate."}\n')
    shutil.copytree(Path(__file__).parent / "data" / "beir-tiny", tmp_path / "my-beir-dataset")
    environment = {
        **os.environ,
        "QWEN3_RAG_EMBEDDING_MODEL": tiny_models.embedding,
        "QWEN3_RAG_RERANKER_MODEL": tiny_models.reranker,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    for command in COMMANDS:
        result = subprocess.run(
            command, shell=True, capture_output=True, text=True, timeout=300, cwd=tmp_path, env=environment
        )
        assert result.returncode == 0, (command, result.stderr[-3000:])
    assert (tmp_path / "questions.npy").exists() and (tmp_path / "scored.jsonl").read_text().count("score") == 1


INSTALL_BLOCK = SHELL_BLOCKS[0]


def _pyproject() -> dict:
    import tomllib

    return tomllib.loads((README.parent / "pyproject.toml").read_text())


def _names(requirements: list[str]) -> set[str]:
    """Distribution names of requirement strings, normalised; extras of qwen3-rag itself expanded."""
    from packaging.requirements import Requirement

    extras = _pyproject()["project"]["optional-dependencies"]
    names = set()
    for text in requirements:
        requirement = Requirement(text)
        if requirement.name == "qwen3-rag":
            for extra in requirement.extras:
                names |= _names(extras[extra])
        else:
            names.add(re.sub(r"[-_.]+", "-", requirement.name).lower())
    return names


def test_the_install_block_works_from_what_a_user_has():
    extras = _pyproject()["project"]["optional-dependencies"]
    named = re.findall(r'pip install "\.\[([a-z-]+)\]"', INSTALL_BLOCK)
    assert named and all(extra in extras for extra in named)
    assert "<repository URL>" not in README.read_text()  # nothing a user cannot fill in
    assert ".[gpu]" not in INSTALL_BLOCK  # flash-attn builds only with CUDA: not in the lines a CPU user copies
    assert "torch==" in INSTALL_BLOCK.replace('"', "")  # the CPU build, pinned as CI installs it


@pytest.mark.parametrize(
    ("framework", "extra"), [("langchain", "langchain"), ("llama_index", "llama-index"), ("haystack", "haystack")]
)
def test_each_framework_snippet_needs_only_its_extra(framework, extra):
    """Every package a framework's README block imports comes with `pip install ".[extra]"`."""
    from importlib.metadata import packages_distributions

    project = _pyproject()["project"]
    installed = _names(project["dependencies"]) | _names(project["optional-dependencies"][extra])
    block = next(b for b in BLOCKS if f"qwen3_rag.integrations.{framework}" in b)
    modules = {m.split(".")[0] for m in re.findall(r"^\s*(?:from|import) ([\w.]+)", block, flags=re.M)}
    providers = packages_distributions()
    for module in modules - {"qwen3_rag"} - set(sys.stdlib_module_names):
        distributions = {re.sub(r"[-_.]+", "-", d).lower() for d in providers.get(module, [module])}
        assert distributions & installed, f"the {framework} block imports {module}, which [{extra}] does not install"


def _install_commands(block: str) -> list[list[str]]:
    """The install block's lines as argument lists, comments dropped; only `cd` and `pip install` are expected."""
    import shlex

    commands = [shlex.split(line, comments=True) for line in block.splitlines()]
    commands = [command for command in commands if command]
    for command in commands:
        assert command[0] == "cd" or command[:2] == ["pip", "install"], f"the test cannot run {command}"
    return commands


@pytest.mark.slow
def test_the_install_block_and_framework_snippets_run_in_a_fresh_environment(tiny_models, tmp_path):
    """A new user's first run: a bare virtual environment, the README's install lines as written (from a copy
    of the source tree, named as the block names it), then the framework snippets with that environment's Python."""
    from source_tree import copy_source_tree

    commands = _install_commands(INSTALL_BLOCK)
    tree = next(command[1] for command in commands if command[0] == "cd")
    copy_source_tree(tmp_path / tree)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    # An index URL this machine cannot reach (the PyTorch one, offline) is given up on quickly; the
    # machine's own pip configuration (its wheel folders, its registry mirror) applies as it would for a user.
    environment = {**os.environ, "PIP_RETRIES": "1", "PIP_TIMEOUT": "15", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    environment.pop("PYTHONPATH", None)
    try:
        _install_and_run(commands, venv, environment, tiny_models, tmp_path)
    finally:
        shutil.rmtree(venv, ignore_errors=True)  # 2 GB a run; pytest keeps the last runs' folders


def _install_and_run(commands, venv, environment, tiny_models, tmp_path):
    python = str(venv / "bin" / "python")
    cwd = tmp_path
    for command in commands:
        if command[0] == "cd":
            cwd = cwd / command[1]
            continue
        result = subprocess.run(
            [python, "-m", *command], cwd=cwd, env=environment, capture_output=True, text=True, timeout=1200
        )
        assert result.returncode == 0, (command, result.stderr[-3000:])

    located = subprocess.run(
        [python, "-c", "import qwen3_rag; print(qwen3_rag.__file__)"],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
    )
    assert located.stdout.startswith(str(venv)), located  # the installed package, not this checkout
    # The first block of each framework, the snippet its extra is for (later blocks may name a package of their own).
    snippets = [
        next(b for b in BLOCKS if f"qwen3_rag.integrations.{framework}" in b)
        for framework in ("langchain", "llama_index", "haystack")
    ]
    for block in snippets:
        code = with_tiny_models(block, tiny_models)
        result = subprocess.run(
            [python, "-c", code], cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=300
        )
        assert result.returncode == 0, (block[:200], result.stderr[-3000:])
    cli = subprocess.run(
        [str(venv / "bin" / "qwen3-rag"), "--help"], env=environment, capture_output=True, text=True, cwd=tmp_path
    )
    assert cli.returncode == 0 and "index" in cli.stdout
