"""Every Python block in the README and in docs/ runs, with the tiny local checkpoints in place of the hub models;
the README's command lines run as written, and its install block is the short one a new user pastes."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from readme_pages import ALL_BLOCKS, DOCS, PAGES, README, ROOT, SERVED, fenced

BLOCKS = [block for block in ALL_BLOCKS if SERVED not in block]
BLOCK_IDS = [
    f"{page.relative_to(ROOT).with_suffix('')}-{number}"
    for page in PAGES
    for number, block in enumerate(fenced(page, "python"))
    if SERVED not in block
]


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
@pytest.mark.parametrize("block", BLOCKS, ids=BLOCK_IDS)
def test_readme_block_runs(block, tiny_models, tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", with_tiny_models(block, tiny_models)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]


SHELL_BLOCKS = fenced(README, "bash")
# The README's command-line scripts: each block's `qwen3-rag` lines with the `export` lines they depend on.
# Other lines (`hf download`, `pip`, `make`) are not run here.
CLI_SCRIPTS = [
    [line for line in block.splitlines() if line.startswith(("qwen3-rag ", "export "))]
    for block in SHELL_BLOCKS
    if any(line.startswith("qwen3-rag ") for line in block.splitlines())
]
COMMANDS = [line for script in CLI_SCRIPTS for line in script if line.startswith("qwen3-rag ")]
# Where the README's local-checkpoint lines expect the folders `hf download` made.
LOCAL_FOLDERS = {"embedding": "models/Qwen3-Embedding-0.6B", "reranker": "models/Qwen3-Reranker-0.6B"}


def test_readme_shows_every_cli_command():
    assert {line.split()[1] for line in COMMANDS} == {"index", "search", "embed", "rerank", "eval", "models"}


def test_readme_shows_local_checkpoints_by_flag_and_by_environment():
    """An offline user's first need: the two commands with local folders, by flag and by environment variable."""
    from qwen3_rag.cli.parser import EMBEDDING_MODEL_VARIABLE, RERANKER_MODEL_VARIABLE

    scripts = ["\n".join(script) for script in CLI_SCRIPTS]
    by_flag = f"--embedding-model ./{LOCAL_FOLDERS['embedding']} --reranker-model ./{LOCAL_FOLDERS['reranker']}"
    assert any(by_flag in script for script in scripts)
    by_environment = (
        f"export {EMBEDDING_MODEL_VARIABLE}=$PWD/{LOCAL_FOLDERS['embedding']}",
        f"export {RERANKER_MODEL_VARIABLE}=$PWD/{LOCAL_FOLDERS['reranker']}",
    )
    assert any(all(line in script for line in by_environment) for script in scripts)
    downloads = "\n".join(SHELL_BLOCKS)
    assert all(f"--local-dir {folder}" in downloads for folder in LOCAL_FOLDERS.values())


@pytest.mark.slow
def test_readme_cli_commands_run_in_order(tiny_models, tmp_path):
    """Each README block's `qwen3-rag ...` lines, as written, with the tiny models set through the environment
    (where a block names no models) and copied to the folders the local-checkpoint lines name."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "keys.md").write_text("# Keys\n\nRotate the keys with `vault rotate` every 90 days.\n")
    (tmp_path / "docs" / "intro.txt").write_text("This folder documents the service.\n")
    (tmp_path / "questions.txt").write_text("How do I rotate keys?\nWhat is this folder?\n")
    (tmp_path / "pairs.jsonl").write_text('{"query": "rotate keys", "document": "Use vault rotate."}\n')
    shutil.copytree(Path(__file__).parent / "data" / "beir-tiny", tmp_path / "my-beir-dataset")
    shutil.copytree(tiny_models.embedding, tmp_path / LOCAL_FOLDERS["embedding"])
    shutil.copytree(tiny_models.reranker, tmp_path / LOCAL_FOLDERS["reranker"])
    environment = {
        **os.environ,
        "QWEN3_RAG_EMBEDDING_MODEL": tiny_models.embedding,
        "QWEN3_RAG_RERANKER_MODEL": tiny_models.reranker,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    for script in CLI_SCRIPTS:
        text = "\n".join(script)
        # A script that names its models by flag or export runs without the tiny ones in the environment: its
        # plain `search` must find the folders the index was built with, as the README says.
        names_models = "--embedding-model" in text or "export QWEN3_RAG_" in text
        unset = {"QWEN3_RAG_EMBEDDING_MODEL", "QWEN3_RAG_RERANKER_MODEL"} if names_models else set()
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", text],
            capture_output=True,
            text=True,
            timeout=600,
            cwd=tmp_path,
            env={name: value for name, value in environment.items() if name not in unset},
        )
        assert result.returncode == 0, (script, result.stderr[-3000:])
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


def test_the_install_block_builds_the_project_once():
    """Pasted whole, the block builds the wheel once: the CPU torch line, then one `pip install` of the source tree
    with every extra the reader needs; the other extras are named in prose, not as more lines to paste."""
    installs = [command for command in _install_commands(INSTALL_BLOCK) if command[:2] == ["pip", "install"]]
    project = [command for command in installs if any(arg == "." or arg.startswith(".[") for arg in command[2:])]
    assert len(project) == 1, project
    assert len(installs) == 2 and installs[0][2].startswith("torch=="), installs


def test_the_pages_build_a_wheel_with_what_pip_has():
    """`python -m build` needs a package that installing the project does not bring; pip builds wheels itself."""
    for page in PAGES:
        assert "python -m build" not in page.read_text(), page.name
    assert "`pip wheel --no-deps -w dist .`" in README.read_text()  # run by tests/test_packaging.py


def test_ci_runs_the_test_command_the_readme_gives():
    """The README's "Develop and test" block holds `make setup` and `make test`, and .ci/run runs that test command."""
    import shlex

    block = next(block for block in SHELL_BLOCKS if "make test" in block)
    given = {shlex.join(shlex.split(line, comments=True)) for line in block.splitlines()} - {""}
    assert {"make setup", "make test"} <= given
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    ci = [line for line in ci if line and not line.startswith(("#", "set ", "cd "))]
    assert ci and ci[-1] in given, ci


def _slug(heading: str) -> str:
    """The anchor GitHub gives a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_every_docs_page_is_linked_from_the_readme_and_every_link_resolves():
    readme = README.read_text()
    assert DOCS and all(f"](docs/{page.name})" in readme for page in DOCS)
    for page in PAGES:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
            if "://" in target:
                continue
            path, _, anchor = target.partition("#")
            linked = (page.parent / path).resolve() if path else page
            assert linked.exists(), f"{page.name} links to {target}, which is not there"
            if anchor and linked.suffix == ".md":
                headings = re.findall(r"^#+ (.+)$", linked.read_text(), flags=re.M)
                assert anchor in {_slug(heading) for heading in headings}, f"{page.name} links to {target}"


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


def architecture_walks() -> dict[str, str]:
    """The README's architecture walks: heading -> text (whitespace folded, so references may wrap)."""
    section = README.read_text().split("\n## Architecture\n", 1)[1].split("\n## ", 1)[0]
    walks = section.split("\n### ")[1:]
    return {walk.splitlines()[0]: walk for walk in walks}


def defined_names(path: Path) -> set[str]:
    import ast

    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(target.id for target in node.targets if isinstance(target, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


def test_the_architecture_walks_are_short_and_name_real_code():
    """Issue 37: an adapter's instruction, the index's precision and a model's dtype, each followed from where a
    user sets it to where it acts in at most 6 steps, every file and name in them existing in the code."""
    walks = architecture_walks()
    assert set(walks) == {"An adapter's `instruction`", "The index's `precision`", "A model's `dtype`"}
    reference = re.compile(r"`((?:core|integrations)/[\w/]+\.py)`(?::((?:\s*`[A-Za-z_][\w.]*`,?)+))?")
    wrong = []
    for heading, walk in walks.items():
        steps = re.findall(r"^\d+\. ", walk, flags=re.M)
        assert 3 <= len(steps) <= 6, f"{heading}: {len(steps)} steps"
        folded = " ".join(walk.split())
        found = reference.findall(folded)
        assert len(found) >= len(steps), f"{heading}: fewer code references than steps"
        for path, symbols in found:
            if not (ROOT / path).is_file():
                wrong.append(f"{heading}: {path} does not exist")
                continue
            names = defined_names(ROOT / path)
            for symbol in re.findall(r"`([\w.]+)`", symbols):
                wrong += [f"{heading}: {path} defines no {part}" for part in symbol.split(".") if part not in names]
    assert wrong == []
