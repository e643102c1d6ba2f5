"""The CLI's LanceDB index at scale: indexing throughput, exact vs ANN search, hybrid search.

Measured on this machine:
1. Search over N synthetic unit vectors of the real 0.6B width (1024), written through
   `IndexStore.write` as `qwen3-rag index` writes them: exact latency (LanceDB's flat scan), the
   IVF-SQ index's build time, its latency and recall@10 against exact, and hybrid latency (vector +
   BM25, fused). Vectors are clustered (1,000 centres plus noise, as embeddings of real text are);
   `--isotropic` adds the worst case, uniform random directions, where IVF recall collapses.
2. `qwen3-rag index` on a generated folder of 10,000 files with a tiny random Qwen3 embedder
   (hidden 64, 2 layers): the index's own overhead (walking, hashing, tokenizing, chunking,
   LanceDB commits), with the embedding cost made small; then the re-run on the unchanged folder, and
   on the folder renamed (every chunk found again by its text and copied, none embedded).

3. `--precisions` (issue 26): the same clustered vectors written as float32, int8 (each vector in int8
   steps of its own size, searched by an exact scan) and binary indexes (sign bits + int8 for
   rescoring), at each of `--precision-sizes`. Vectors are generated block by
   block from per-block seeds, so neither the writer nor the exact ground truth ever holds them all
   (10M float32 vectors are 40 GB). Per precision: size on disk, the peak RSS of a separate search
   process, median and p95 latency over 100 queries, recall@10 against exact float32 search, for
   the exact scan (up to `--exact-up-to` chunks; always for int8, which has no ANN index) and the IVF
   index, and for binary at rescore factors
   1 (Hamming order alone), 4, 10, 50 and 200 (`--rescores`).

    python bench/index_scale.py --sizes 100000 1000000 --out out/index-scale
    python bench/index_scale.py --files 0 --sizes --precisions float32 binary --precision-sizes 1000000 \
        --out out/index-precision
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("LANCE_LOG", "error")
os.environ.setdefault("LANCEDB_LOG", "error")  # LanceDB's own setting; LANCE_LOG alone leaves its warnings on
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from report import cpu_name  # noqa: E402
from tiny_qwen3 import write_embedding_model  # noqa: E402

from qwen3_rag.cli import main  # noqa: E402
from qwen3_rag.local_index import Chunk, IndexStore  # noqa: E402
from qwen3_rag.local_index.precision import INDEX_PRECISIONS  # noqa: E402
from qwen3_rag.local_index.search import ensure_indexes  # noqa: E402
from qwen3_rag.local_index.store import FileRecord, FileUpdate  # noqa: E402

WORDS = (
    "index vector search rerank query document chunk token model kernel batch cache shard "
    "replica latency throughput memory disk network cluster"
).split()
DIM = 1024


def unit_vectors(rng: np.random.Generator, centres: np.ndarray | None, count: int) -> np.ndarray:
    if centres is None:
        vectors = rng.standard_normal((count, DIM), dtype=np.float32)
    else:
        vectors = centres[rng.integers(0, len(centres), count)] + 0.7 * rng.standard_normal(
            (count, DIM), dtype=np.float32
        )
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def timed(function, repeats: int) -> tuple[float, list]:
    latencies, results = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        results.append(function())
        latencies.append(time.perf_counter() - started)
    return statistics.median(latencies) * 1e3, results


def bench_search(work: Path, chunks: int, clustered: bool, queries: int = 20) -> dict:
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((1000, DIM), dtype=np.float32) if clustered else None
    settings = {"embedding_model": "synthetic", "dim": DIM}
    words = np.array(WORDS)
    started = time.perf_counter()
    with IndexStore.create_or_open(work / f"synthetic-{chunks}-{clustered}", settings) as store:
        per_file, block = 10, 20_000
        for start in range(0, chunks, block):
            vectors = store.encode(unit_vectors(rng, centres, block))
            texts = [" ".join(words[rng.integers(0, len(words), 8)]) for _ in range(block)]
            store.write(
                [
                    FileUpdate(
                        FileRecord(f"/synthetic/{f}.md", "0", 0, 0),
                        [
                            Chunk(texts[i], i + 1, i + 1)
                            for i in range(f * per_file - start, (f + 1) * per_file - start)
                        ],
                        vectors.slice(f * per_file - start, per_file),
                    )
                    for f in range(start // per_file, (start + block) // per_file)
                ]
            )
        write_seconds = time.perf_counter() - started
        ensure_indexes(store.chunks, vector_index_from=chunks + 1, layout=store.layout)  # the full-text index only
        query_vectors = unit_vectors(rng, centres, queries)
        exact_latencies, exact = [], []
        for q in query_vectors:
            started = time.perf_counter()
            exact.append(store.search(q, 10))
            exact_latencies.append(time.perf_counter() - started)
        hybrid_ms, _ = timed(lambda: store.search(query_vectors[0], 50, text="kernel cache latency"), 5)
        started = time.perf_counter()
        ensure_indexes(store.chunks, vector_index_from=0, layout=store.layout)
        build_seconds = time.perf_counter() - started
        ann_latencies, recalls = [], []
        for q, truth in zip(query_vectors, exact, strict=True):
            started = time.perf_counter()
            found = store.search(q, 10)
            ann_latencies.append(time.perf_counter() - started)
            assert truth.exact and not found.exact
            recalls.append(len({h.text + h.path for h in found.hits} & {h.text + h.path for h in truth.hits}) / 10)
        ann_hybrid_ms, _ = timed(lambda: store.search(query_vectors[0], 50, text="kernel cache latency"), 5)
    return {
        "chunks": chunks,
        "dim": DIM,
        "vectors": "clustered" if clustered else "isotropic",
        "write_seconds": write_seconds,
        "exact_median_ms": statistics.median(exact_latencies) * 1e3,
        "exact_hybrid_top50_median_ms": hybrid_ms,
        "ann_build_seconds": build_seconds,
        "ann_median_ms": statistics.median(ann_latencies) * 1e3,
        "ann_recall_at_10": float(np.mean(recalls)),
        "ann_hybrid_top50_median_ms": ann_hybrid_ms,
    }


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
    argv = [
        "-q",
        "index",
        str(folder),
        "--index",
        str(index),
        "--embedding-model",
        str(model),
        "--device",
        "cpu",
        "--chunk-tokens",
        str(chunk_tokens),
        "--overlap",
        "0",
    ]
    started = time.perf_counter()
    assert main(argv) == 0
    first = time.perf_counter() - started
    with IndexStore.open(index) as store:
        chunks, indexed_files = store.chunk_count(), store.file_count()
    started = time.perf_counter()
    assert main(argv) == 0  # nothing changed: a stat per file, no reads
    unchanged = time.perf_counter() - started
    started = time.perf_counter()
    assert main(["-q", "search", "kernel cache latency", "--index", str(index), "--no-rerank", "--json"]) == 0
    search = time.perf_counter() - started
    # The folder renamed: every file is new by path and every chunk's text is in the index already.
    moved = folder.rename(folder.with_name("docs-moved"))
    started = time.perf_counter()
    assert main([*argv[:2], str(moved), *argv[3:]]) == 0  # hashes, chunks and copies; embeds nothing
    moved_seconds = time.perf_counter() - started
    with IndexStore.open(index) as store:
        assert (store.chunk_count(), store.file_count()) == (chunks, indexed_files)  # the old paths are gone
    return {
        "files": indexed_files,
        "chunks": chunks,
        "seconds": first,
        "chunks_per_s": chunks / first,
        "files_per_s": indexed_files / first,
        "rerun_unchanged_seconds": unchanged,
        "rerun_moved_seconds": moved_seconds,
        "moved_chunks_per_s": chunks / moved_seconds,
        "search_command_seconds_tiny_model": search,
    }


BLOCK = 20_000  # vectors generated, written and scanned at a time
QUERIES = 100
TOP = 10


def block_vectors(seed: int, centres: np.ndarray, block: int) -> np.ndarray:
    """Block `block` of the clustered corpus, the same on every call (its own seed)."""
    return unit_vectors(np.random.default_rng([seed, block]), centres, BLOCK)


def exact_top(queries: np.ndarray, chunks: int, seed: int, centres: np.ndarray) -> np.ndarray:
    """Exact float32 top-`TOP` row numbers per query, streamed over the regenerated blocks."""
    best_scores = np.full((len(queries), TOP), -np.inf, dtype=np.float32)
    best_rows = np.zeros((len(queries), TOP), dtype=np.int64)
    for block in range(chunks // BLOCK):
        scores = queries @ block_vectors(seed, centres, block).T
        rows = np.arange(block * BLOCK, (block + 1) * BLOCK)
        merged_scores = np.concatenate([best_scores, scores], axis=1)
        merged_rows = np.concatenate([best_rows, np.broadcast_to(rows, scores.shape)], axis=1)
        keep = np.argsort(-merged_scores, axis=1, kind="stable")[:, :TOP]
        best_scores = np.take_along_axis(merged_scores, keep, axis=1)
        best_rows = np.take_along_axis(merged_rows, keep, axis=1)
    return best_rows


def write_corpus(index: Path, chunks: int, precision: str, seed: int, centres: np.ndarray) -> float:
    """`chunks` vectors written as `qwen3-rag index` writes them; each row's path names its row number."""
    settings = {
        "embedding_model": "synthetic",
        "dim": DIM,
        **({"precision": precision} if precision != "float32" else {}),
    }
    started = time.perf_counter()
    with IndexStore.create_or_open(index, settings) as store:
        for block in range(chunks // BLOCK):
            vectors = store.encode(block_vectors(seed, centres, block))
            first = block * BLOCK
            store.write(  # ten chunks a file, as in a corpus of documents; row = file * 10 + line - 1
                [
                    FileUpdate(
                        FileRecord(f"/r/{(first + i) // 10}", "0", 0, 0),
                        [Chunk("x", line, line) for line in range(1, 11)],
                        vectors.slice(i, 10),
                    )
                    for i in range(0, BLOCK, 10)
                ]
            )
        ensure_indexes(store.chunks, vector_index_from=chunks + 1, layout=store.layout)  # full text only
    return time.perf_counter() - started


def folder_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def search_in_own_process(index: Path, queries_file: Path, rescore: int | None, ann: bool) -> dict:
    """Latencies and hits of the queries, and the peak RSS, from a process that imports only the index
    (not this script's torch and transformers)."""
    command = [sys.executable, "-c", SEARCH_WORKER, str(index), str(queries_file), str(rescore), str(ann)]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.splitlines()[-1])


SEARCH_WORKER = """
import json, statistics, sys, time
import numpy as np
from qwen3_rag.local_index import IndexStore

index, queries_file, ann = sys.argv[1], sys.argv[2], sys.argv[4] == "True"
rescore = int(sys.argv[3]) if sys.argv[3] != "None" else None  # only a binary index takes one
queries = np.load(queries_file)
latencies, hits = [], []
with IndexStore.open(index) as store:
    store.search(queries[0], 10, rescore=rescore)  # opens files and indexes: not a query's cost
    for query in queries:
        started = time.perf_counter()
        found = store.search(query, 10, rescore=rescore)
        latencies.append(time.perf_counter() - started)
        assert found.exact is not ann
        hits.append([int(hit.path.rsplit("/", 1)[1]) * 10 + hit.start_line - 1 for hit in found.hits])
print(json.dumps({
    "median_ms": statistics.median(latencies) * 1e3,
    "p95_ms": float(np.percentile(latencies, 95)) * 1e3,
    # VmHWM starts afresh at exec; ru_maxrss would carry the parent's peak over from fork
    "peak_rss_mib": int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM:")).split()[1]) / 1024,
    "hits": hits,
}))
"""


def bench_precision(
    work: Path, chunks: int, precision: str, exact_up_to: int, binary_rescores: list[int], seed: int = 0
) -> list[dict]:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((1000, DIM), dtype=np.float32)
    queries = unit_vectors(np.random.default_rng([seed, 10**9]), centres, QUERIES)
    queries_file = work / "queries.npy"
    np.save(queries_file, queries)
    started = time.perf_counter()
    truth = exact_top(queries, chunks, seed, centres)
    truth_seconds = time.perf_counter() - started
    index = work / f"{precision}-{chunks}"
    write_seconds = write_corpus(index, chunks, precision, seed, centres)
    rows = []
    rescores = binary_rescores if precision == "binary" else [None]
    scans = (False,) if precision == "int8" else (False, True) if chunks <= exact_up_to else (True,)
    for ann in scans:
        build_seconds = None
        if ann:
            started = time.perf_counter()
            with IndexStore.create_or_open(index, json.loads(json.dumps(IndexStore.recorded_settings(index)))) as store:
                ensure_indexes(store.chunks, vector_index_from=0, layout=store.layout)
                store.seal(writing=False)
            build_seconds = time.perf_counter() - started
        for rescore in rescores:
            answer = search_in_own_process(index, queries_file, rescore, ann)
            recall = np.mean([len(set(h) & set(t.tolist())) / TOP for h, t in zip(answer["hits"], truth, strict=True)])
            rows.append(
                {
                    "chunks": chunks,
                    "precision": precision,
                    "search": "IVF" if ann else "exact scan",
                    "rescore": rescore if precision == "binary" else None,
                    "recall_at_10": float(recall),
                    "median_ms": answer["median_ms"],
                    "p95_ms": answer["p95_ms"],
                    "search_process_peak_rss_mib": answer["peak_rss_mib"],
                    "index_bytes": folder_bytes(index),
                    "write_seconds": write_seconds,
                    "ann_build_seconds": build_seconds,
                    "exact_truth_seconds": truth_seconds,
                }
            )
            print(json.dumps(rows[-1]), flush=True)
    return rows


def main_bench() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("out/index-scale"))
    parser.add_argument(
        "--sizes", type=int, nargs="*", default=[100_000], help="chunks for the search test (none: skip it)"
    )
    parser.add_argument("--isotropic", action="store_true", help="also measure uniform random vectors")
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--lines-per-file", type=int, default=40)
    parser.add_argument("--chunk-tokens", type=int, default=40)
    parser.add_argument("--precisions", nargs="*", default=[], choices=list(INDEX_PRECISIONS))
    parser.add_argument("--precision-sizes", type=int, nargs="*", default=[1_000_000])
    parser.add_argument("--rescores", type=int, nargs="+", default=[1, 4, 10, 50, 200], help="for binary indexes")
    parser.add_argument(
        "--exact-up-to", type=int, default=2_000_000, help="measure the exact scan only up to this many chunks"
    )
    args = parser.parse_args()
    results: dict = {"cpu": cpu_name(), "cores": os.cpu_count(), "search": [], "precision": []}
    with tempfile.TemporaryDirectory(dir=args.out.parent if args.out.parent.exists() else None) as scratch:
        work = Path(scratch)
        for size in args.precision_sizes if args.precisions else []:
            for precision in args.precisions:
                results["precision"] += bench_precision(work, size, precision, args.exact_up_to, args.rescores)
                subprocess.run(["rm", "-rf", str(work / f"{precision}-{size}")], check=True)  # disk for the next
        if args.files:
            results["indexing_tiny_model"] = bench_indexing(work, args.files, args.lines_per_file, args.chunk_tokens)
            print(json.dumps(results["indexing_tiny_model"]), flush=True)
        for size in args.sizes:
            for clustered in [True, False] if args.isotropic and size == args.sizes[0] else [True]:
                results["search"].append(bench_search(work, size, clustered))
                print(json.dumps(results["search"][-1]), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "index-scale.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main_bench()
