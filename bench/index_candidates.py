"""Vector index candidates side by side on the corpora of `index_scale.py` (issue 36).

Per candidate: recall@10 against exact float32 search, search latency, the search process's peak RSS, size
on disk and build time.

Candidates (`--candidates`), each searched from a separate process that imports only what it reads, 100
queries after one warm-up query, as `index_scale.py --precisions` does:

- `binary`: today's binary index, written through `IndexStore.write` and indexed by `ensure_indexes` (IVF
  over the sign bits by Hamming distance), searched by `IndexStore.search`: `--rescores` x 10 candidates by
  Hamming distance in `--probes` partitions (the layout's `NPROBES`, set in the search process), ordered by
  their int8 vectors' cosine with the float query.
- `asymmetric`: the same index and the same int8 rescoring, but the candidates are ordered by the float
  query dotted with each row's sign bits as +-1 (sum of q_i * sign_i) instead of by Hamming distance, in a
  NumPy scan over the packed bits of every row in the probed IVF partitions. LanceDB exposes no partition
  as such: they are reached through its IVF index itself, asked for every row of the `--probes` nearest
  partitions (nprobes fixed, limit = all rows), which it returns with their bits; their Hamming order is
  ignored. `asymmetric-scan`: the same over all rows (a scan of the bits column, no IVF), the ceiling.
- `ivf-rq`: LanceDB's IVF_RQ (RaBitQ) index at `--rq-bits` bits a dimension over a float16 `vector`
  column (2 KiB a row at 1024 dims), dot distance, sqrt(rows) partitions as `ensure_indexes` chooses;
  searched with `nprobes` (`--probes`) and `refine_factor` (`--refine-factors`, 0: none), which re-ranks
  the candidates on the float16 vectors.
- `hnsw-sq`: LanceDB's IVF_HNSW_SQ over the same float16 column, one HNSW graph per ~1M rows (LanceDB's
  own target), every partition probed; searched with `ef` (`--ef`) and `refine_factor` (pairs
  where `ef` < 10 x refine are skipped: LanceDB refuses an `ef` below the candidates it must return).

The LanceDB candidates' searches fetch the row number only; `binary` goes through `IndexStore.search` (text
and metadata of the 10 hits included) and `asymmetric` reads the hits' metadata, so their latencies carry
a little more. Per corpus and size the JSON also records the streamed ground truth's statistics: the mean
cosine between two corpus rows and the queries' mean top-1 and top-10 cosines, and (with `binary` or
`asymmetric`) the recall@10 of ranking every row by its int8 vector, the ceiling of their rescoring.

    python bench/index_candidates.py --corpus tidy uneven near-duplicates --sizes 100000 --out out/index-candidates
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from datetime import timedelta
from pathlib import Path

import numpy as np

os.environ.setdefault("LANCE_LOG", "error")
os.environ.setdefault("LANCEDB_LOG", "error")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from index_scale import (  # noqa: E402
    BLOCK,
    CORPORA,
    DIM,
    TOP,
    Corpus,
    build_vector_index,
    corpus_named,
    exact_truth,
    folder_bytes,
    write_corpus,
)
from report import cpu_name  # noqa: E402

CANDIDATES = ("binary", "asymmetric", "asymmetric-scan", "ivf-rq", "hnsw-sq")
HNSW_PARTITION_ROWS = 1_048_576  # LanceDB's default target partition size for HNSW

SEARCH_WORKER = r"""
import json, os, statistics, sys, time
os.environ.setdefault("LANCE_LOG", "error")
os.environ.setdefault("LANCEDB_LOG", "error")
import numpy as np

spec = json.loads(sys.argv[1])
queries = np.load(spec["queries"])
mode = spec["mode"]
scanned = []

def row_number(metadata):  # the index writes /r/<file> with ten chunks a file, row = file * 10 + line - 1
    place = json.loads(metadata)
    return int(place["path"].rsplit("/", 1)[1]) * 10 + place["start_line"] - 1

if mode == "binary":
    import qwen3_rag.local_index.layouts as layouts
    from qwen3_rag.local_index import IndexStore
    layouts.NPROBES = spec["probes"]  # read by BinaryLayout.recall at each search
    store = IndexStore.open(spec["index"])
    def search(query):
        found = store.search(query, 10, rescore=spec["rescore"])
        assert not found.exact
        return [int(hit.path.rsplit("/", 1)[1]) * 10 + hit.start_line - 1 for hit in found.hits]
elif mode in ("asymmetric", "asymmetric-scan"):
    from qwen3_rag.local_index import IndexStore
    store = IndexStore.open(spec["index"])
    table = store.chunks
    everything = table.count_rows()
    byte_bits = 2.0 * np.unpackbits(np.arange(256, dtype=np.uint8)[:, None], axis=1).astype(np.float32) - 1
    offsets = (np.arange(DIM // 8) * 256)[None, :]
    def asymmetric(lookup, bits):  # sum over dimensions of q_i * (+1 or -1), through one 256-entry table a byte
        return lookup[bits.astype(np.intp) + offsets].sum(axis=1)
    def search(query):
        lookup = (query.reshape(-1, 8) @ byte_bits.T).ravel()  # (bytes, 256): each byte value's share of q . sign
        keep = 10 * spec["rescore"]
        ids, scores = [], []
        if mode == "asymmetric":
            packed = np.packbits(query > 0)
            batches = [table.search(packed, vector_column_name="vector").distance_type("hamming")
                       .nprobes(spec["probes"]).select(["vector", "_distance"]).with_row_id(True)
                       .limit(everything).to_arrow()]
        else:
            batches = table.search().select(["vector"]).with_row_id(True).to_batches(65536)
        rows = 0
        for batch in batches:
            if not batch.num_rows:
                continue
            rows += batch.num_rows
            column = batch.column("vector")
            column = column.combine_chunks() if hasattr(column, "combine_chunks") else column  # a table's
            bits = np.asarray(column.flatten(), dtype=np.uint8).reshape(batch.num_rows, -1)
            score = asymmetric(lookup, bits)
            chosen = np.argpartition(-score, min(keep, len(score)) - 1)[:keep]
            ids.append(np.asarray(batch.column("_rowid"), dtype=np.uint64)[chosen])
            scores.append(score[chosen])
        scanned.append(rows)
        ids, scores = np.concatenate(ids), np.concatenate(scores)
        ids = ids[np.argsort(-scores, kind="stable")[:keep]]
        found = table.take_row_ids([int(i) for i in ids]).select(["rescore", "step", "metadata"]).to_arrow()
        steps = np.asarray(found.column("rescore").combine_chunks().flatten(), dtype=np.float32).reshape(-1, DIM)
        cosines = steps @ query / np.linalg.norm(steps, axis=1)
        best = np.argsort(-cosines, kind="stable")[:10]
        metadata = found.column("metadata").to_pylist()
        return [row_number(metadata[i]) for i in best]
else:  # a LanceDB index over the float16 table
    import lancedb
    cache = spec.get("index_cache_mib")  # None: LanceDB's default index cache
    session = lancedb.Session(index_cache_size_bytes=cache * 2**20) if cache else None
    table = lancedb.connect(spec["index"], session=session).open_table("vectors")
    def search(query):
        by_vector = table.search(query, vector_column_name="vector").distance_type("dot").nprobes(spec["probes"])
        if spec["refine"]:
            by_vector = by_vector.refine_factor(spec["refine"])
        if spec["ef"]:
            by_vector = by_vector.ef(spec["ef"])
        return by_vector.select(["id", "_distance"]).limit(10).to_arrow().column("id").to_pylist()

search(queries[0])  # opens files and indexes: not a query's cost
latencies, hits = [], []
for query in queries:
    started = time.perf_counter()
    hits.append(search(query))
    latencies.append(time.perf_counter() - started)
print(json.dumps({
    "median_ms": statistics.median(latencies) * 1e3,
    "p95_ms": float(np.percentile(latencies, 95)) * 1e3,
    # VmHWM starts afresh at exec; ru_maxrss would carry the parent's peak over from fork
    "peak_rss_mib": int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM:")).split()[1]) / 1024,
    "rows_scored": statistics.mean(scanned[1:]) if len(scanned) > 1 else None,
    "hits": hits,
}))
""".replace("DIM", str(DIM))


def search_in_own_process(spec: dict) -> dict:
    done = subprocess.run([sys.executable, "-c", SEARCH_WORKER, json.dumps(spec)], capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"search process failed for {spec}:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.splitlines()[-1])


def recall_at_10(hits: list[list[int]], truth: np.ndarray) -> float:
    return float(np.mean([len(set(h) & set(t.tolist())) / TOP for h, t in zip(hits, truth, strict=True)]))


def int8_top(queries: np.ndarray, chunks: int, corpus: Corpus) -> np.ndarray:
    """The top-`TOP` rows by the float query's cosine with each row's int8 steps (`scaled_int8`, as the binary
    index stores them for rescoring), streamed over the blocks: what rescoring every row would find, the
    ceiling of `binary` and `asymmetric` recall."""
    from qwen3_rag.quantization import scaled_int8

    best_scores = np.full((len(queries), TOP), -np.inf, dtype=np.float32)
    best_rows = np.zeros((len(queries), TOP), dtype=np.int64)
    for block in range(chunks // BLOCK):
        steps = scaled_int8(corpus.block(block))[0].astype(np.float32)
        scores = queries @ steps.T / np.linalg.norm(steps, axis=1)
        merged_scores = np.concatenate([best_scores, scores], axis=1)
        rows = np.broadcast_to(np.arange(block * BLOCK, (block + 1) * BLOCK), scores.shape)
        merged_rows = np.concatenate([best_rows, rows], axis=1)
        keep = np.argsort(-merged_scores, axis=1, kind="stable")[:, :TOP]
        best_scores = np.take_along_axis(merged_scores, keep, axis=1)
        best_rows = np.take_along_axis(merged_rows, keep, axis=1)
    return best_rows


def write_float16(folder: Path, chunks: int, corpus: Corpus) -> float:
    """The corpus as a LanceDB table (`id`: row number, `vector`: float16), in one write, block by block."""
    import lancedb
    import pyarrow as pa

    schema = pa.schema([pa.field("id", pa.int64()), pa.field("vector", pa.list_(pa.float16(), DIM))])

    def batches():
        for block in range(chunks // BLOCK):
            vectors = corpus.block(block).astype(np.float16)
            yield pa.record_batch(
                [
                    pa.array(np.arange(block * BLOCK, (block + 1) * BLOCK)),
                    pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1)), DIM),
                ],
                schema=schema,
            )

    started = time.perf_counter()
    lancedb.connect(folder).create_table("vectors", pa.RecordBatchReader.from_batches(schema, batches()))
    return time.perf_counter() - started


def build_lance_index(folder: Path, config) -> float:
    """`config` built over the float16 column (replacing the previous index), then older versions deleted, so
    that the folder holds the data and this index only."""
    import lancedb

    table = lancedb.connect(folder).open_table("vectors")
    started = time.perf_counter()
    table.create_index("vector", config=config, replace=True)
    seconds = time.perf_counter() - started
    with warnings.catch_warnings():  # that older versions go is the point: no other process reads this table
        warnings.simplefilter("ignore", UserWarning)
        table.optimize(cleanup_older_than=timedelta(0), delete_unverified=True)
    return seconds


def bench_candidates(work: Path, chunks: int, corpus: Corpus, args: argparse.Namespace) -> tuple[dict, list[dict]]:
    wanted = set(args.candidates)
    queries = corpus.queries(args.queries, chunks)
    queries_file = work / "queries.npy"
    np.save(queries_file, queries)
    started = time.perf_counter()
    truth, scores, mean_pair = exact_truth(queries, chunks, corpus)
    stats = {
        "corpus": corpus.name,
        "chunks": chunks,
        "mean_pairwise_cosine": mean_pair,
        "queries_mean_top1_cosine": float(scores[:, 0].mean()),
        "queries_mean_top10_cosine": float(scores[:, TOP - 1].mean()),
        "exact_truth_seconds": time.perf_counter() - started,
    }
    if wanted & {"binary", "asymmetric", "asymmetric-scan"}:
        stats["int8_rescoring_ceiling_recall_at_10"] = recall_at_10(int8_top(queries, chunks, corpus).tolist(), truth)
    print(json.dumps(stats), flush=True)
    rows: list[dict] = []

    def measure(candidate: str, spec: dict, params: dict, disk: int, write_seconds: float, build: float) -> None:
        answer = search_in_own_process(
            {
                "queries": str(queries_file),
                "probes": None,
                "rescore": None,
                "refine": None,
                "ef": None,
                **spec,
                "mode": candidate.split(" ")[0],
            }
        )
        candidate = candidate.removeprefix("lance ")
        rows.append(
            {
                "corpus": corpus.name,
                "chunks": chunks,
                "candidate": candidate,
                **params,
                "recall_at_10": recall_at_10(answer["hits"], truth),
                "median_ms": answer["median_ms"],
                "p95_ms": answer["p95_ms"],
                "search_process_peak_rss_mib": answer["peak_rss_mib"],
                "rows_scored_per_query": answer["rows_scored"],
                "disk_bytes": disk,
                "write_seconds": write_seconds,
                "build_seconds": build,
            }
        )
        print(json.dumps(rows[-1]), flush=True)

    if wanted & {"binary", "asymmetric", "asymmetric-scan"}:
        index = work / f"binary-{corpus.name}-{chunks}"
        write_seconds = write_corpus(index, chunks, "binary", corpus)
        build = build_vector_index(index)
        disk = folder_bytes(index)
        for rescore in args.rescores:
            for probes in args.probes:
                spec = {"index": str(index), "probes": probes, "rescore": rescore}
                for candidate in ("binary", "asymmetric"):
                    if candidate in wanted:
                        measure(candidate, spec, {"probes": probes, "rescore": rescore}, disk, write_seconds, build)
            if "asymmetric-scan" in wanted:
                measure(
                    "asymmetric-scan",
                    {"index": str(index), "rescore": rescore},
                    {"rescore": rescore},
                    disk,
                    write_seconds,
                    0.0,
                )
        shutil.rmtree(index)  # disk for the next
    if wanted & {"ivf-rq", "hnsw-sq"}:
        from lancedb.index import HnswSq, IvfRq

        folder = work / f"float16-{corpus.name}-{chunks}"
        write_seconds = write_float16(folder, chunks, corpus)
        data = folder_bytes(folder)
        spec = {"index": str(folder)}
        for bits in args.rq_bits if "ivf-rq" in wanted else []:
            partitions = max(1, round(math.sqrt(chunks)))
            build = build_lance_index(folder, IvfRq(distance_type="dot", num_partitions=partitions, num_bits=bits))
            disk = folder_bytes(folder)
            for probes in args.probes:
                for refine in args.refine_factors:
                    for cache in args.index_cache_mib:
                        params = {"bits": bits, "probes": probes, "refine": refine, "partitions": partitions}
                        params |= {"index_cache_mib": cache} if cache else {}
                        search = {**spec, "probes": probes, "refine": refine, "index_cache_mib": cache}
                        measure("lance ivf-rq", search, params, disk, write_seconds, build)
        if "hnsw-sq" in wanted:
            partitions = max(1, math.ceil(chunks / HNSW_PARTITION_ROWS))
            config = HnswSq(distance_type="dot", num_partitions=partitions, ef_construction=args.ef_construction)
            build = build_lance_index(folder, config)
            disk = folder_bytes(folder)
            for ef in args.ef:
                for refine in args.refine_factors:
                    if ef < TOP * max(refine, 1):
                        continue  # LanceDB: "ef must be greater than or equal to k", k being 10 x refine
                    params = {
                        "ef": ef,
                        "refine": refine,
                        "partitions": partitions,
                        "ef_construction": args.ef_construction,
                    }
                    measure(
                        "lance hnsw-sq",
                        {**spec, "probes": partitions, "ef": ef, "refine": refine},
                        params,
                        disk,
                        write_seconds,
                        build,
                    )
        stats["float16_table_bytes"] = data  # without an index
        shutil.rmtree(folder)
    return stats, rows


SETTING_KEYS = ("bits", "probes", "ef", "refine", "rescore", "index_cache_mib")


def markdown(results: dict) -> str:
    lines = [
        "| corpus | chunks | mean pairwise cosine | queries' mean top-1 cosine | mean top-10 cosine "
        "| int8 rescoring ceiling (recall@10) |",
        "|---|---|---|---|---|---|",
    ]
    for s in results["corpora"]:
        lines.append(
            f"| {s['corpus']} | {s['chunks']:,} | {s['mean_pairwise_cosine']:.3f} | "
            f"{s['queries_mean_top1_cosine']:.3f} | {s['queries_mean_top10_cosine']:.3f} | "
            f"{s.get('int8_rescoring_ceiling_recall_at_10', float('nan')):.3f} |"
        )
    lines += [
        "",
        "| corpus | chunks | candidate | settings | recall@10 | median | p95 | search RSS | on disk | write | build |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results["rows"]:
        settings = ", ".join(f"{k} {r[k]}" for k in SETTING_KEYS if r.get(k) is not None)
        lines.append(
            f"| {r['corpus']} | {r['chunks']:,} | {r['candidate']} | {settings} | {r['recall_at_10']:.3f} | "
            f"{r['median_ms']:.1f} ms | {r['p95_ms']:.1f} ms | {r['search_process_peak_rss_mib']:.0f} MiB | "
            f"{r['disk_bytes'] / 2**20:,.0f} MiB | {r['write_seconds']:.0f} s | {r['build_seconds']:.0f} s |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("out/index-candidates"))
    parser.add_argument(
        "--work", type=Path, default=None, help="scratch folder (default: a temporary one in --out's parent)"
    )
    parser.add_argument("--corpus", nargs="+", default=["tidy", "uneven", "near-duplicates"], choices=list(CORPORA))
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000], help="chunks (multiples of 20,000)")
    parser.add_argument("--candidates", nargs="+", default=list(CANDIDATES), choices=CANDIDATES)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--probes", type=int, nargs="+", default=[20, 50, 100], help="IVF partitions searched")
    parser.add_argument("--rescores", type=int, nargs="+", default=[10, 50], help="binary/asymmetric: candidates / 10")
    parser.add_argument("--rq-bits", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--refine-factors", type=int, nargs="+", default=[0, 10, 50], help="LanceDB's; 0: none")
    parser.add_argument("--ef", type=int, nargs="+", default=[50, 100, 200], help="HNSW search breadth")
    parser.add_argument("--ef-construction", type=int, default=300, help="HNSW build breadth (LanceDB's default)")
    parser.add_argument(
        "--index-cache-mib",
        type=int,
        nargs="+",
        default=[0],
        help="ivf-rq: LanceDB's index cache in the search process (lancedb.Session), 0: its default",
    )
    args = parser.parse_args()
    for size in args.sizes:
        if size % BLOCK:
            parser.error(f"--sizes: {size} is not a multiple of {BLOCK}")
    results: dict = {"cpu": cpu_name(), "cores": os.cpu_count(), "argv": sys.argv[1:], "corpora": [], "rows": []}
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=args.work or args.out.parent) as scratch:
        for name in args.corpus:
            corpus = corpus_named(name)
            for size in args.sizes:
                stats, rows = bench_candidates(Path(scratch), size, corpus, args)
                results["corpora"].append(stats)
                results["rows"] += rows
                (args.out / "index-candidates.json").write_text(json.dumps(results, indent=2))  # as it goes
                (args.out / "index-candidates.md").write_text(markdown(results))
    print(markdown(results))


if __name__ == "__main__":
    main()
