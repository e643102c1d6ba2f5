"""Session fixtures: tiny random Qwen3 checkpoints on disk, built once per test session."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from tiny_qwen3 import write_embedding_model, write_reranker_model

import qwen3_rag  # noqa: F401 - first, as a user's program should: it sets MKL's strict mode before any product

# Texts that stress tokenization: scripts, code, emoji, empty, and leading whitespace/punctuation.
VARIED_TEXTS = [
    "What is the capital of China?",
    "北京是中华人民共和国的首都，也是政治和文化中心。",
    "def add(a, b):\n    return a + b  # 🙂",
    "Gravity 🌍 pulls masses together; Newton wrote F = G m1 m2 / r².",
    "",
    " a leading space",
    "\nstarts with a newline",
    "...and punctuation first!",
    "Ünïcödé ñ and mixed 日本語 text",
    "short",
]


@dataclass(frozen=True)
class TinyModels:
    embedding: str  # tokenizer appends <|endoftext|> (the current hub tokenizer)
    embedding_plain_tokenizer: str  # same weights, tokenizer that does not append it
    reranker: str


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> TinyModels:
    root = tmp_path_factory.mktemp("tiny-qwen3")
    return TinyModels(
        embedding=str(write_embedding_model(root / "embedding", append_end_of_text=True)),
        embedding_plain_tokenizer=str(write_embedding_model(root / "embedding-plain", append_end_of_text=False)),
        reranker=str(write_reranker_model(root / "reranker")),
    )


# CPU-bound for random spells of 5-50 ms, idle as long, for at most 60 s: the load a CPU pass sees
# changes from batch to batch, so its thread count does too (core/kernels/threads.py).
FLICKERING_LOAD = """
import random, time
end = time.time() + 60
while time.time() < end:
    spell = time.time() + random.uniform(0.005, 0.05)
    while time.time() < spell:
        pass
    time.sleep(random.uniform(0.005, 0.05))
"""
STEADY_LOAD = "import time\nend = time.time() + 60\nwhile time.time() < end: pass\n"


@contextlib.contextmanager
def load_beside(program: str) -> Iterator[subprocess.Popen]:
    """Another CPU-bound process while the block runs; it ends by itself within a minute."""
    process = subprocess.Popen([sys.executable, "-c", program])
    try:
        yield process
    finally:
        process.kill()
        process.wait()


@pytest.fixture
def busy_process() -> Iterator[subprocess.Popen]:
    with load_beside(STEADY_LOAD) as process:
        yield process


@pytest.fixture
def flickering_load() -> Iterator[subprocess.Popen]:
    with load_beside(FLICKERING_LOAD) as process:
        yield process


@pytest.fixture
def own_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This test's own account key for sealing indexes (see core/local_index/seal.py)."""
    from qwen3_rag.local_index.account import KEY_VARIABLE

    key = tmp_path / "keys" / "mine.key"
    monkeypatch.setenv(KEY_VARIABLE, str(key))
    return key


@pytest.fixture(scope="session")
def embedder(tiny_models: TinyModels):
    from qwen3_rag import Embedder

    return Embedder(tiny_models.embedding, device="cpu")


@pytest.fixture(scope="session")
def reranker(tiny_models: TinyModels):
    from qwen3_rag import Reranker

    return Reranker(tiny_models.reranker, device="cpu")


# A small corpus for the framework pipeline tests; the tiny random models rank it arbitrarily,
# so tests compare each pipeline's order with the core's order on the same candidates.
CORPUS = [
    "The capital of China is Beijing.",
    "Gravity is a force that attracts two bodies towards each other.",
    "Photosynthesis turns light, water and carbon dioxide into sugar and oxygen.",
    "Paris is the capital and largest city of France.",
    "def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)",
    "東京は日本の首都です。",
    "The mitochondrion is the powerhouse of the cell.",
    "Water boils at 100 degrees Celsius at sea level.",
]
QUESTION = "What is the capital of China?"


def two_stage(embedder, reranker, k: int, top_n: int) -> tuple[list[str], list[float]]:
    """The core's answer for QUESTION over CORPUS: top `k` by dot product, then the reranker's best `top_n`.

    Ids are corpus positions as strings, the id every pipeline test gives its documents.
    """
    similarity = embedder.embed_queries([QUESTION])[0] @ embedder.embed_documents(CORPUS).T
    candidates = [int(i) for i in similarity.argsort(kind="stable")[::-1][:k]]
    ranked = reranker.rerank(QUESTION, [CORPUS[i] for i in candidates], top_k=top_n)
    return [str(candidates[r.index]) for r in ranked], [r.score for r in ranked]


@contextlib.asynccontextmanager
async def heartbeat():
    """Counts event-loop turns while the block runs (`ticks[0]`); a blocked loop counts none."""
    ticks = [0]

    async def beat():
        while True:
            ticks[0] += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(beat())
    try:
        yield ticks
    finally:
        task.cancel()
