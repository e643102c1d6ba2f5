"""A copy of the project as a user holds it: the tracked (and not ignored) files, nothing built."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

TESTS = Path(__file__).resolve().parent  # tests/: the helpers, data/, and one folder per package
ROOT = TESTS.parent  # the project root, wherever a test file sits under tests/
BEIR_TINY = TESTS / "data" / "beir-tiny"  # a BEIR dataset of a few documents, for eval


def copy_source_tree(destination: Path) -> Path:
    """Copy the project's tracked and unignored files to `destination` (no build/, no .venv)."""
    tracked = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split("\0")
    for name in filter(None, tracked):
        if (ROOT / name).is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, destination / name)
    return destination
