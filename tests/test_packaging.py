"""The distribution: the wheel holds both folder mappings and imports; the core imports no framework."""

from __future__ import annotations

import ast
import os
import re
import shlex
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from source_tree import copy_source_tree

ROOT = Path(__file__).resolve().parents[1]
FRAMEWORKS = ("langchain", "langchain_core", "llama_index", "haystack", "ray")


def test_import_pulls_in_no_rag_framework():
    code = (
        "import sys, qwen3_rag, qwen3_rag.integrations, qwen3_rag.cli, qwen3_rag.local_index, qwen3_rag.evaluation\n"
        f"loaded = sorted({{m.split('.')[0] for m in sys.modules}} & set({FRAMEWORKS!r}))\n"
        "print(','.join(loaded))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


@pytest.mark.parametrize(
    "adapter, own",
    [("langchain", "langchain_core"), ("llama_index", "llama_index"), ("haystack", "haystack"), ("ray", "ray")],
)
def test_each_adapter_imports_only_its_own_framework(adapter, own):
    code = (
        f"import sys, qwen3_rag.integrations.{adapter}\n"
        f"loaded = sorted({{m.split('.')[0] for m in sys.modules}} & set({FRAMEWORKS!r}))\n"
        "print(','.join(loaded))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == own


@pytest.mark.slow
def test_built_wheel_installs_and_imports(tmp_path):
    # Built from a copy of the tracked files: an earlier build/ folder would hand stale packages to the wheel.
    source = copy_source_tree(tmp_path / "source")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(tmp_path / "dist"), str(source)],
        check=True,
        capture_output=True,
    )
    wheel = next((tmp_path / "dist").glob("qwen3_rag-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {
        "qwen3_rag/__init__.py",
        "qwen3_rag/py.typed",
        "qwen3_rag/kernels/__init__.py",
        "qwen3_rag/integrations/__init__.py",
        "qwen3_rag/integrations/langchain/rerank.py",
        "qwen3_rag/integrations/llama_index/rerank.py",
        "qwen3_rag/integrations/haystack/ranker.py",
        "qwen3_rag/integrations/ray/jobs.py",
        "qwen3_rag/cli/search_command.py",
        "qwen3_rag/local_index/store.py",
        "qwen3_rag/evaluation/beir.py",
        "qwen3_rag/__main__.py",
    } <= names
    packages = {f"qwen3_rag/{init.relative_to(ROOT / 'core')}" for init in (ROOT / "core").glob("**/__init__.py")}
    packages |= {
        f"qwen3_rag/integrations/{init.relative_to(ROOT / 'integrations')}"
        for init in (ROOT / "integrations").glob("**/__init__.py")
    }
    assert packages <= names, f"packages missing from pyproject.toml's list: {sorted(packages - names)}"
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "qwen3-rag = qwen3_rag.cli:run" in zipfile.ZipFile(wheel).read(entry_points).decode()
    assert not any(name.startswith(("core/", "integrations/", "tests/")) for name in names)
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
    )
    code = "import qwen3_rag, qwen3_rag.integrations; print(qwen3_rag.__file__); print(qwen3_rag.Embedder.__name__)"
    result = subprocess.run(
        [
            sys.executable,
            "-I",
            "-c",
            f"import sys; sys.path.insert(0, {str(target)!r}); "
            + "import site; [sys.path.append(p) for p in site.getsitepackages()]; "
            + code,
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    location, name = result.stdout.split()
    assert location.startswith(str(target)) and name == "Embedder"


@pytest.mark.slow
def test_the_readme_core_install_works_in_a_fresh_environment(tmp_path):
    """A new user's core install, as the README gives it: a bare virtual environment, torch (the CPU build, which
    this machine's pip configuration finds on disk), then `pip install .` in a copy of the source tree; the command
    and the import answer there. The README's `pip wheel` line builds the wheel the README names from the same copy.
    (tests/test_readme.py runs the README's whole install block with every framework.)"""
    readme = (ROOT / "README.md").read_text()
    assert "`pip install .`" in readme  # the core and the command line alone
    wheel_line = re.search(r"`(pip wheel [^`]*)`", readme)
    wheel_name = re.search(r"dist/(qwen3_rag-[\w.+-]+\.whl)", readme)
    assert wheel_line and wheel_name
    source = copy_source_tree(tmp_path / "qwen3-rag")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    environment = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    environment.pop("PYTHONPATH", None)

    def run(command: list[str], cwd: Path) -> str:
        result = subprocess.run(command, cwd=cwd, env=environment, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, (command, result.stderr[-3000:])
        return result.stdout

    python = str(venv / "bin" / "python")
    try:
        run([python, "-m", "pip", "install", "torch==2.13.0"], cwd=tmp_path)
        run([python, "-m", "pip", "install", "."], cwd=source)
        assert "index" in run([str(venv / "bin" / "qwen3-rag"), "--help"], cwd=tmp_path)
        location = run([python, "-c", "import qwen3_rag; print(qwen3_rag.__file__)"], cwd=tmp_path)
        assert location.startswith(str(venv)), location  # the installed package, not this checkout
        run([python, "-m", *shlex.split(wheel_line.group(1))], cwd=source)
        assert (source / "dist" / wheel_name.group(1)).is_file(), sorted((source / "dist").iterdir())
    finally:
        shutil.rmtree(venv, ignore_errors=True)  # about 1 GB a run; pytest keeps the last runs' folders


def test_no_module_imports_the_folders_by_their_names():
    offenders = []
    for path in [
        *ROOT.glob("core/**/*.py"),
        *ROOT.glob("integrations/**/*.py"),
        *ROOT.glob("tests/**/*.py"),
        *ROOT.glob("examples/*.py"),
        *ROOT.glob("bench/*.py"),
    ]:
        for line in path.read_text().splitlines():
            stripped = line.strip()
            if stripped.startswith(("import core", "from core", "import integrations", "from integrations")):
                offenders.append(f"{path.relative_to(ROOT)}: {stripped}")
    assert offenders == []


TORCH_FREE = [
    "core/checkpoint",
    "core/remote",
    "core/local_index",
    "core/evaluation",
    "core/model_methods.py",
    "core/backend.py",
    "core/vector_settings.py",
    "core/settings.py",
    "core/model_factory.py",
    "core/model_base.py",
    "core/resolved.py",
]


def module_imports(path: Path) -> list[str]:
    """The modules `path` imports at module level; the package's own as "qwen3_rag.<dotted path>"."""
    package = list(path.relative_to(ROOT / "core").parent.parts)
    names = []
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                names.append(node.module or "")
            else:
                base = package[: len(package) - (node.level - 1)]
                names.append(".".join(["qwen3_rag", *base, *filter(None, [node.module])]))
    return names


LOCAL_ONLY = (
    "torch",
    "transformers",
    "qwen3_rag.kernels",
    "qwen3_rag.embedder",
    "qwen3_rag.reranker",
    "qwen3_rag.model_factory",
)


def test_the_torch_free_layers_import_neither_torch_nor_the_kernels():
    """The file map in docs/development.md: checkpoint reading, the HTTP client, the index and the pipeline never
    import torch, the kernels or the local facades at module level (a served model needs none of them)."""
    offenders = []
    for entry in TORCH_FREE:
        paths = [ROOT / entry] if entry.endswith(".py") else sorted((ROOT / entry).glob("*.py"))
        for path in paths:
            offenders += [
                f"{path.relative_to(ROOT)}: {name}"
                for name in module_imports(path)
                if any(name == bad or name.startswith(bad + ".") for bad in LOCAL_ONLY)
            ]
    assert not offenders, offenders


def test_tests_import_shared_helpers_never_another_folders_test_module():
    """pytest puts only tests/ on the path (pyproject.toml): shared helpers live there, and a test module may
    import one beside it, which pytest's own import puts on the path, but not one in another folder."""
    offenders = []
    for path in sorted((ROOT / "tests").rglob("*.py")):
        for name in module_imports_anywhere(path):
            if name.startswith("test_") and not (path.parent / f"{name}.py").is_file():
                offenders.append(f"{path.relative_to(ROOT)}: {name}")
    assert offenders == []


def module_imports_anywhere(path: Path) -> list[str]:
    """The top-level names of the absolute imports in `path`, function bodies included."""
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [alias.name.split(".")[0] for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module.split(".")[0])
    return names
