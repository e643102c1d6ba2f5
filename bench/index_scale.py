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
   `--corpus` (issue 36) picks the vectors' shape (`Corpus`): `tidy`, the clusters above (the default);
   `uneven`, shaped like trained embeddings (10,000 clusters around 100 topics, a shared offset, spreads of
   their own, Zipf-like sizes); `near-duplicates`, `uneven` with 20 % of the rows tiny perturbations of
   others. bench/index_candidates.py measures other ANN indexes on the same corpora.

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


class Corpus:
    """A synthetic corpus of unit vectors of width `DIM`, generated `BLOCK` rows at a time: block `b` is the same
    on every call (its own seed), so neither a writer nor the exact ground truth ever holds the corpus."""

    name = ""

    def block(self, block: int) -> np.ndarray:
        """Rows block * BLOCK .. (block + 1) * BLOCK - 1, float32 (BLOCK, DIM), unit length."""
        raise NotImplementedError

    def queries(self, count: int, chunks: int) -> np.ndarray:
        """`count` queries drawn from the corpus's distribution (never corpus members) of a corpus of `chunks`."""
        raise NotImplementedError


class TidyCorpus(Corpus):
    """1,000 centres (standard normal), each vector one of them plus 0.7 x standard normal noise: clusters of
    equal size and spread, and a mean cosine of ~0 between random pairs. The corpus of issues 15 and 26."""

    name = "tidy"

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self.centres = np.random.default_rng(seed).standard_normal((1000, DIM), dtype=np.float32)

    def block(self, block: int) -> np.ndarray:
        return unit_vectors(np.random.default_rng([self.seed, block]), self.centres, BLOCK)

    def queries(self, count: int, chunks: int) -> np.ndarray:
        return unit_vectors(np.random.default_rng([self.seed, 10**9]), self.centres, count)


class UnevenCorpus(Corpus):
    """What trained embedding models produce, roughly: 10,000 centres grouped around 100 super-centres (topics
    and their sub-topics), one offset shared by every vector (the anisotropy of trained embeddings: random
    pairs have a mean cosine of ~0.4, not 0), a spread of its own per cluster (0.35 to 1.2 x standard normal
    noise: tight and loose topics), and Zipf-like cluster sizes (the k-th largest cluster holds a share
    proportional to 1 / k: the largest ~10 % of the corpus, the smallest a few rows in a million)."""

    name = "uneven"
    tag = 1  # in every seed of this corpus (the near-duplicates' own draws use 2): no stream shared with another
    GROUPS, CLUSTERS = 100, 10_000
    GROUP_VARIANCE = 0.5  # per dimension: a centre is its super-centre plus as much again (variances add to 1)
    OFFSET_VARIANCE = 1.1  # per dimension, of the shared offset: sets the mean cosine of random pairs (~0.4)
    SPREADS = (0.35, 1.2)
    ZIPF = 1.0

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        rng = np.random.default_rng([seed, self.tag, 10**9 + 1])  # the blocks' seeds end in the block
        supers = rng.standard_normal((self.GROUPS, DIM), dtype=np.float32) * np.float32(np.sqrt(self.GROUP_VARIANCE))
        own = rng.standard_normal((self.CLUSTERS, DIM), dtype=np.float32) * np.float32(np.sqrt(1 - self.GROUP_VARIANCE))
        offset = rng.standard_normal(DIM).astype(np.float32)
        offset *= np.float32(np.sqrt(self.OFFSET_VARIANCE * DIM) / np.linalg.norm(offset))
        self.centres = supers[rng.integers(0, self.GROUPS, self.CLUSTERS)] + own + offset
        self.spreads = rng.uniform(*self.SPREADS, self.CLUSTERS).astype(np.float32)
        shares = rng.permutation(1 / np.arange(1, self.CLUSTERS + 1) ** self.ZIPF)  # sizes not tied to spread or group
        self.cumulative = np.cumsum(shares) / shares.sum()

    def draw(self, rng: np.random.Generator, count: int) -> np.ndarray:
        cluster = np.minimum(np.searchsorted(self.cumulative, rng.random(count), side="right"), self.CLUSTERS - 1)
        vectors = self.centres[cluster] + self.spreads[cluster, None] * rng.standard_normal(
            (count, DIM), dtype=np.float32
        )
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    def block(self, block: int) -> np.ndarray:
        return self.draw(np.random.default_rng([self.seed, self.tag, block]), BLOCK)

    def queries(self, count: int, chunks: int) -> np.ndarray:
        return self.draw(np.random.default_rng([self.seed, self.tag, 10**9]), count)


def perturbed(vectors: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each unit vector moved by a random direction of length 0.05-0.2 and renormalised: a cosine of
    0.98-0.999 with the original (an edited copy, a re-chunked passage, boilerplate)."""
    size = rng.uniform(*NearDuplicateCorpus.PERTURBATION, len(vectors)).astype(np.float32)
    moved = vectors + size[:, None] * rng.standard_normal(vectors.shape, dtype=np.float32) / np.float32(np.sqrt(DIM))
    return moved / np.linalg.norm(moved, axis=1, keepdims=True)


class NearDuplicateCorpus(UnevenCorpus):
    """The uneven corpus with a share (20 %) of its rows replaced by near-duplicates: tiny perturbations
    (`perturbed`) of other rows of the same block (a source may have several). Block by block, so a
    duplicate's source is always at hand; row order means nothing to an index. A query is a fresh draw of
    the uneven corpus (the same queries as there), except the same share, which are perturbations of random
    corpus rows: a query for a passage that is in the corpus, with its copies."""

    name = "near-duplicates"
    SHARE = 0.2
    PERTURBATION = (0.05, 0.2)

    def block(self, block: int) -> np.ndarray:
        vectors = super().block(block)
        rng = np.random.default_rng([self.seed, 2, block])
        copies = rng.random(BLOCK) < self.SHARE
        sources = rng.choice(np.flatnonzero(~copies), int(copies.sum()))
        vectors[copies] = perturbed(vectors[sources], rng)
        return vectors

    def queries(self, count: int, chunks: int) -> np.ndarray:
        queries = super().queries(count, chunks)
        rng = np.random.default_rng([self.seed, 2, 10**9])
        chosen = np.flatnonzero(rng.random(count) < self.SHARE)
        rows = rng.integers(0, chunks, len(chosen))
        for block in np.unique(rows // BLOCK):  # each block regenerated once
            here = rows // BLOCK == block
            queries[chosen[here]] = self.block(int(block))[rows[here] % BLOCK]
        queries[chosen] = perturbed(queries[chosen], rng)
        return queries


CORPORA: dict[str, type[Corpus]] = {c.name: c for c in (TidyCorpus, UnevenCorpus, NearDuplicateCorpus)}


def corpus_named(name: str, seed: int = 0) -> Corpus:
    return CORPORA[name](seed)


def exact_truth(queries: np.ndarray, chunks: int, corpus: Corpus) -> tuple[np.ndarray, np.ndarray, float]:
    """Exact float32 top-`TOP` row numbers and cosines per query, streamed over the regenerated blocks, and the
    mean cosine between two distinct corpus rows (from the sum of all rows: (|sum|^2 - n) / (n (n - 1)))."""
    best_scores = np.full((len(queries), TOP), -np.inf, dtype=np.float32)
    best_rows = np.zeros((len(queries), TOP), dtype=np.int64)
    total = np.zeros(DIM, dtype=np.float64)
    for block in range(chunks // BLOCK):
        vectors = corpus.block(block)
        total += vectors.sum(axis=0, dtype=np.float64)
        scores = queries @ vectors.T
        rows = np.arange(block * BLOCK, (block + 1) * BLOCK)
        merged_scores = np.concatenate([best_scores, scores], axis=1)
        merged_rows = np.concatenate([best_rows, np.broadcast_to(rows, scores.shape)], axis=1)
        keep = np.argsort(-merged_scores, axis=1, kind="stable")[:, :TOP]
        best_scores = np.take_along_axis(merged_scores, keep, axis=1)
        best_rows = np.take_along_axis(merged_rows, keep, axis=1)
    rows_seen = chunks // BLOCK * BLOCK
    mean_pair = float((total @ total - rows_seen) / (rows_seen * (rows_seen - 1)))
    return best_rows, best_scores, mean_pair


def exact_top(queries: np.ndarray, chunks: int, corpus: Corpus) -> np.ndarray:
    """Exact float32 top-`TOP` row numbers per query, streamed over the regenerated blocks."""
    return exact_truth(queries, chunks, corpus)[0]


def write_corpus(index: Path, chunks: int, precision: str, corpus: Corpus) -> float:
    """`chunks` vectors written as `qwen3-rag index` writes them; each row's path names its row number."""
    settings = {
        "embedding_model": "synthetic",
        "dim": DIM,
        **({"precision": precision} if precision != "float32" else {}),
    }
    started = time.perf_counter()
    with IndexStore.create_or_open(index, settings) as store:
        for block in range(chunks // BLOCK):
            vectors = store.encode(corpus.block(block))
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
    wide = []  # the same queries again, asking 50 (the CLI's reranking candidates): warm, after the pass above
    for query in queries:
        started = time.perf_counter()
        store.search(query, 50, rescore=rescore)
        wide.append(time.perf_counter() - started)
print(json.dumps({
    "median_ms": statistics.median(latencies) * 1e3,
    "p95_ms": float(np.percentile(latencies, 95)) * 1e3,
    "median_ms_top50_repeat": statistics.median(wide) * 1e3,
    # VmHWM starts afresh at exec; ru_maxrss would carry the parent's peak over from fork
    "peak_rss_mib": int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM:")).split()[1]) / 1024,
    "hits": hits,
}))
"""


def build_vector_index(index: Path) -> float:
    """The index's own ANN index (`ensure_indexes`, as `qwen3-rag index` builds it), sealed; its build seconds."""
    started = time.perf_counter()
    with IndexStore.create_or_open(index, json.loads(json.dumps(IndexStore.recorded_settings(index)))) as store:
        ensure_indexes(store.chunks, vector_index_from=0, layout=store.layout)
        store.seal(writing=False)
    return time.perf_counter() - started


def bench_precision(
    work: Path, chunks: int, precision: str, exact_up_to: int, binary_rescores: list[int], corpus: Corpus
) -> list[dict]:
    queries = corpus.queries(QUERIES, chunks)
    queries_file = work / "queries.npy"
    np.save(queries_file, queries)
    started = time.perf_counter()
    truth = exact_top(queries, chunks, corpus)
    truth_seconds = time.perf_counter() - started
    index = work / f"{precision}-{chunks}"
    write_seconds = write_corpus(index, chunks, precision, corpus)
    rows = []
    rescores = binary_rescores if precision == "binary" else [None]
    scans = (False,) if precision == "int8" else (False, True) if chunks <= exact_up_to else (True,)
    for ann in scans:
        build_seconds = build_vector_index(index) if ann else None
        for rescore in rescores:
            answer = search_in_own_process(index, queries_file, rescore, ann)
            recall = np.mean([len(set(h) & set(t.tolist())) / TOP for h, t in zip(answer["hits"], truth, strict=True)])
            rows.append(
                {
                    "chunks": chunks,
                    "corpus": corpus.name,
                    "precision": precision,
                    "search": "IVF" if ann else "exact scan",
                    "rescore": rescore if precision == "binary" else None,
                    "recall_at_10": float(recall),
                    "median_ms": answer["median_ms"],
                    "p95_ms": answer["p95_ms"],
                    "median_ms_top50_repeat": answer["median_ms_top50_repeat"],
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
    parser.add_argument(
        "--corpus",
        nargs="+",
        default=["tidy"],
        choices=list(CORPORA),
        help="the shape of the --precisions vectors (see Corpus); bench/index_candidates.py takes the same",
    )
    parser.add_argument("--rescores", type=int, nargs="+", default=[1, 4, 10, 50, 200], help="for binary indexes")
    parser.add_argument(
        "--exact-up-to", type=int, default=2_000_000, help="measure the exact scan only up to this many chunks"
    )
    args = parser.parse_args()
    results: dict = {"cpu": cpu_name(), "cores": os.cpu_count(), "search": [], "precision": []}
    with tempfile.TemporaryDirectory(dir=args.out.parent if args.out.parent.exists() else None) as scratch:
        work = Path(scratch)
        for name in args.corpus if args.precisions else []:
            corpus = corpus_named(name)
            for size in args.precision_sizes:
                for precision in args.precisions:
                    results["precision"] += bench_precision(
                        work, size, precision, args.exact_up_to, args.rescores, corpus
                    )
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
