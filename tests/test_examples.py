"""The README's examples run end to end against the tiny local checkpoints."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_quickstart_runs_on_local_models(tiny_models):
    result = subprocess.run(
        [
            sys.executable,
            str(EXAMPLES / "quickstart.py"),
            "--embedding-model",
            tiny_models.embedding,
            "--reranker-model",
            tiny_models.reranker,
            "--device",
            "cpu",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "What is the capital of China?" in lines and "Why do apples fall to the ground?" in lines
    scored = [line for line in lines if line.startswith("  0.")]
    assert len(scored) == 6  # 3 reranked candidates per query, each with a probability


@pytest.mark.parametrize("script", ["langchain_rag.py", "llama_index_rag.py", "haystack_pipeline.py"])
def test_framework_example_runs_on_local_models(tiny_models, script):
    result = subprocess.run(
        [
            sys.executable,
            str(EXAMPLES / script),
            "--embedding-model",
            tiny_models.embedding,
            "--reranker-model",
            tiny_models.reranker,
            "--device",
            "cpu",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    scored = [line for line in result.stdout.splitlines() if line.startswith("  0.")]
    assert len(scored) == 4  # 2 reranked documents for each of 2 questions


@pytest.mark.slow
def test_ray_example_runs_on_a_local_cluster(tiny_models, tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            str(EXAMPLES / "ray_embed.py"),
            "--embedding-model",
            tiny_models.embedding,
            "--reranker-model",
            tiny_models.reranker,
            "--device",
            "cpu",
            "--rows",
            "300",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "wrote 300 embeddings" in result.stdout and "fixed_size_list<element: float>[64]" in result.stdout
    scored = [line for line in result.stdout.splitlines() if line.startswith("  0.")]
    assert len(scored) == 10  # 2 questions x 5 facts
