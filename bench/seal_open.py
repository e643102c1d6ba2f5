"""What the seal's checks cost when a large index is opened (issue 33, item 4).

Builds (once, in --work) a float32 index of --chunks synthetic vectors of the 0.6B width, written as
`qwen3-rag index` writes them (bench/index_scale.py's `write_corpus`, then `optimize`: compaction, the
full-text and IVF indexes), and times, each in a fresh process with a warm page cache, the median of
--repeats runs:

- open + first search as before issue 33: the manifests checked against the seal (`check_sealed`), then
  LanceDB opens the newest version (`old_open_ms`), and the check alone (`old_check_ms`);
- open + first search now: `IndexStore.open`, which also checks the newest version, and every file the
  searched version names by size and stat identity (`new_open_ms`), and that check alone (`new_check_ms`);
- the check when every file's identity differs (a copy on another disk: all hashed, `copied_check_ms`);
- a writer's reseal with nothing new (`reseal_ms`), and `--trust` (every file hashed, then every row read
  in the limited helper: `trust_s`, of which that reading alone is `trust_read_all_s`).

    python bench/seal_open.py --chunks 1000000 --work /tmp/seal-bench
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from index_scale import DIM, write_corpus  # noqa: E402

from qwen3_rag.local_index import IndexStore  # noqa: E402
from qwen3_rag.local_index.search import VECTOR_INDEX_FROM  # noqa: E402

TIMED = """
import json, os, sys, time
import numpy as np
import lancedb  # imported before the clock starts: not the checks' cost
from qwen3_rag.local_index import IndexStore
from qwen3_rag.local_index.seal import check_sealed, check_served
from qwen3_rag.local_index.store import SEALED_TABLES, _connect, _open_table

index, what = sys.argv[1], sys.argv[2]
from pathlib import Path
index = Path(index)
query = np.zeros(1024, np.float32); query[0] = 1.0
started = time.perf_counter()
if what == "old_open":
    check_sealed(index, SEALED_TABLES, writer=False)
    store = IndexStore(index, _open_table(_connect(index), "chunks", index))
    store.search(query, 10)
elif what == "new_open":
    IndexStore.open(index).search(query, 10)
elif what == "old_check":
    check_sealed(index, SEALED_TABLES, writer=False)
elif what == "new_check":
    check_served(index, SEALED_TABLES, "chunks.lance")
print(json.dumps({"ms": (time.perf_counter() - started) * 1e3}))
"""


def timed(index: Path, what: str, repeats: int) -> float:
    runs = []
    for _ in range(repeats):
        command = [sys.executable, "-c", TIMED, str(index), what]
        done = subprocess.run(command, check=True, capture_output=True, text=True)
        runs.append(json.loads(done.stdout.splitlines()[-1])["ms"])
    return statistics.median(runs)


def build(index: Path, chunks: int) -> float:
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((1000, DIM), dtype=np.float32)
    started = time.perf_counter()
    write_corpus(index, chunks, "float32", 0, centres)
    with IndexStore.create_or_open(index, IndexStore.recorded_settings(index)) as store:
        store.optimize(VECTOR_INDEX_FROM)  # as `qwen3-rag index` ends: compaction, full-text and IVF indexes
    return time.perf_counter() - started


def layout(index: Path) -> dict:
    from qwen3_rag.local_index.manifest_check import fields
    from qwen3_rag.local_index.seal import read_seal

    seal = read_seal(index)
    assert seal is not None
    newest = seal.newest["chunks.lance"][0].split(" ")[0]
    manifest = (index / "chunks.lance" / "_versions" / newest).read_bytes()
    end = len(manifest) - 16
    position = int.from_bytes(manifest[end : end + 8], "little")
    size = int.from_bytes(manifest[position : position + 4], "little")
    fragments = len(fields(manifest[position + 4 : position + 4 + size]).get(2, []))
    files = [path for path in index.rglob("*") if path.is_file()]
    return {
        "index_bytes": sum(path.stat().st_size for path in files),
        "files_on_disk": len(files),
        "sealed_files": sum(len(records) for records in seal.files.values()),
        "seal_bytes": (index / "qwen3-rag.seal").stat().st_size,
        "newest_chunks_manifest_bytes": len(manifest),
        "newest_chunks_manifest_fragments": fragments,
        "manifests_on_disk": len(list(index.glob("*.lance/_versions/*.manifest"))),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=1_000_000)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    os.environ.setdefault("LANCE_LOG", "error")
    index = args.work / f"float32-{args.chunks}"
    result: dict = {"chunks": args.chunks}
    if not index.exists():
        result["build_s"] = build(index, args.chunks)
    result.update(layout(index))
    for what in ("old_check", "new_check", "old_open", "new_open"):
        result[f"{what}_ms"] = timed(index, what, args.repeats)
    from qwen3_rag.local_index.folder import WriteLock
    from qwen3_rag.local_index.seal import current, write_seal
    from qwen3_rag.local_index.store import SEALED_TABLES

    lock = WriteLock(index)
    try:
        started = time.perf_counter()
        write_seal(index, current(index, SEALED_TABLES), writing=False)
        result["reseal_ms"] = (time.perf_counter() - started) * 1e3
    finally:
        lock.release()
    for path in (index / "chunks.lance").rglob("*"):  # new ctimes: every file's identity differs, as in a copy
        if path.is_file() and "_versions" not in path.parts:
            os.utime(path)
    result["copied_check_ms"] = timed(index, "new_check", 1)
    started = time.perf_counter()
    IndexStore.trust(index)  # records the identities again, too
    result["trust_s"] = time.perf_counter() - started
    from qwen3_rag.local_index.reader import read_everything

    started = time.perf_counter()
    read_everything(index)  # the part of --trust that has LanceDB read every row, in the limited helper
    result["trust_read_all_s"] = time.perf_counter() - started
    result["load_average_after"] = os.getloadavg()[0]
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
