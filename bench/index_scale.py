"""The CLI's index at 100k chunks: indexing throughput and search latency.

Two measurements, both on this machine:
1. `qwen3-rag index` on a generated folder that chunks into ~100k chunks, with a tiny random
   Qwen3 embedder (hidden 64, 2 layers): the index's own overhead (walking, hashing, tokenizing,
   chunking, SQLite, fsync), with the embedding cost made small. With a real model the embedding
   throughput in RESULTS.md is the bound.
2. Search latency over 100k synthetic unit vectors of the real 0.6B width (1024): the top-50 step
   of `qwen3-rag search` (SQLite read + memory-mapped matrix product + top-k), without the model.

    python bench/index_scale.py --out out/index-scale
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from tiny_qwen3 import write_embedding_model  # noqa: E402

from qwen3_rag.cli import main  # noqa: E402
from qwen3_rag.local_index import Chunk, VectorStore  # noqa: E402
from qwen3_rag.local_index.store import FileRecord, FileUpdate  # noqa: E402

WORDS = ("index vector search rerank query document chunk token model kernel batch cache shard "
         "replica latency throughput memory disk network cluster").split()


def generated_folder(root: Path, files: int, lines_per_file: int, seed: int = 0) -> Path:
    rng = random.Random(seed)
    for n in range(files):
        folder = root / f"part-{n // 500:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        text = "\n".join(" ".join(rng.choices(WORDS, k=10)) for _ in range(lines_per_file))
        (folder / f"doc-{n:06d}.md").write_text(text)
    return root


def bench_indexing(work: Path, files: int, lines_per_file: int, chunk_tokens: int) -> dict:
    model = write_embedding_model(work / "tiny-embedding")
    folder = generated_folder(work / "docs", files, lines_per_file)
    index = work / "index"
    argv = ["-q", "index", str(folder), "--index", str(index), "--embedding-model", str(model), "--device", "cpu",
            "--chunk-tokens", str(chunk_tokens), "--overlap", "0"]
    started = time.perf_counter()
    assert main(argv) == 0
    first = time.perf_counter() - started
    with VectorStore.open(index) as store:
        chunks, indexed_files = store.chunk_count(), store.file_count()
    started = time.perf_counter()
    assert main(argv) == 0  # nothing changed: a stat per file, no reads
    unchanged = time.perf_counter() - started
    started = time.perf_counter()
    assert main(["-q", "search", "kernel cache latency", "--index", str(index), "--no-rerank", "--json"]) == 0
    search = time.perf_counter() - started
    return {"files": indexed_files, "chunks": chunks, "seconds": first, "chunks_per_s": chunks / first,
            "files_per_s": indexed_files / first, "rerun_unchanged_seconds": unchanged,
            "search_command_seconds_tiny_model": search}


def bench_search(work: Path, chunks: int, dim: int, queries: int) -> dict:
    settings = {"embedding_model": "synthetic", "dim": dim}
    rng = np.random.default_rng(0)
    with VectorStore.create_or_open(work / "synthetic", settings) as store:
        per_file = 10
        for start in range(0, chunks, 10_000):
            updates = []
            for f in range(start // per_file, (start + 10_000) // per_file):
                vectors = rng.standard_normal((per_file, dim), dtype=np.float32)
                vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
                updates.append(FileUpdate(FileRecord(f"/synthetic/{f}.md", "0", 0, 0),
                                          [Chunk(f"chunk {i} of file {f}", i + 1, i + 1) for i in range(per_file)],
                                          vectors))
            store.write(updates)
    latencies = []
    with VectorStore.open(work / "synthetic") as store:
        for _ in range(queries + 1):
            query = rng.standard_normal(dim, dtype=np.float32)
            query /= np.linalg.norm(query)
            started = time.perf_counter()
            hits = store.search(query, 50)
            latencies.append(time.perf_counter() - started)
        assert len(hits) == 50
    warm = latencies[1:]
    return {"chunks": chunks, "dim": dim, "top_n": 50, "first_ms": latencies[0] * 1e3,
            "median_ms": statistics.median(warm) * 1e3, "p90_ms": sorted(warm)[int(0.9 * len(warm))] * 1e3}


def main_bench() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("out/index-scale"))
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--lines-per-file", type=int, default=40)
    parser.add_argument("--chunk-tokens", type=int, default=40)
    parser.add_argument("--chunks", type=int, default=100_000, help="synthetic vectors for the search test")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        results = {"search_synthetic": bench_search(work, args.chunks, 1024, 20),
                   "indexing_tiny_model": bench_indexing(work, args.files, args.lines_per_file, args.chunk_tokens)}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "index-scale.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main_bench()
