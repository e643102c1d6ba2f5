"""Every Python block in the README runs, with the tiny local checkpoints in place of the hub models."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_has_a_block_per_framework():
    joined = "\n".join(BLOCKS)
    for module in ("qwen3_rag.integrations.langchain", "qwen3_rag.integrations.llama_index",
                   "qwen3_rag.integrations.haystack"):
        assert module in joined


@pytest.mark.slow
@pytest.mark.parametrize("block", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_readme_block_runs(block, tiny_models, tmp_path):
    code = (block.replace("Qwen/Qwen3-Embedding-0.6B", tiny_models.embedding)
                 .replace("Qwen/Qwen3-Reranker-0.6B", tiny_models.reranker))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
