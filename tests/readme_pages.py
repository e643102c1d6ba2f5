"""The README and docs/ pages, and their fenced code blocks: what test_readme.py runs, and the served-model
block test_remote.py runs beside its vLLM servers."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [README, *DOCS]  # the README first: the first block of each framework is its snippet there


def fenced(page: Path, language: str) -> list[str]:
    """The `language` code blocks of a page, in order, dedented (a block inside a list item is indented)."""
    return [textwrap.dedent(block) for block in re.findall(rf"```{language}\n(.*?)```", page.read_text(), flags=re.S)]


PYTHON_BLOCKS = [(page, block) for page in PAGES for block in fenced(page, "python")]
ALL_BLOCKS = [block for _, block in PYTHON_BLOCKS]
SERVED = "http://localhost:800"  # blocks that need vLLM servers run in test_remote.py, which starts them
