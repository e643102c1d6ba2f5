"""What it costs that a vector does not depend on the thread count (issue 35).

The thread count follows the machine's load (core/kernels/threads.py). Two settings make that safe,
and this measures what each costs, on the full 0.6B shape with random weights:

- float32 under MKL's strict reproducible mode (`MKL_CBWR=AUTO,STRICT`, set by `import qwen3_rag`)
  against MKL's default, quiet, on 1 and on all threads. Each variant is its own process: MKL reads
  the mode once. The default is had by one product before `import qwen3_rag`.
- bf16, whose oneDNN products are not thread-invariant, keeps torch's thread count under load: a
  pass on all threads with one CPU-bound process beside it, against one thread (what following the
  load would have run).

Each cell is the best of `--repeats` passes over the same texts; each variant also reports the
largest difference between the vectors on one thread and on all threads.

    make setup && .venv/bin/python bench/thread_invariance.py --out out/thread-invariance
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import workload
from report import cpu_name, save

BUSY = "import time\nend = time.time() + 600\nwhile time.time() < end: pass\n"

WORKER = r"""
import json, sys, time
mode, dtype, root, repeats = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
import torch
if mode == "mkl-default":
    torch.randn(8, 8) @ torch.randn(8, 8)  # MKL starts before qwen3_rag can ask for its strict mode
import numpy as np
sys.path.insert(0, "bench")
import workload
from qwen3_rag import Embedder
from qwen3_rag.kernels import threads

threads.free_threads = lambda limit=None: limit  # the counts below are the ones measured
texts = workload.texts(32, 2, 120, seed=7)
embedder = Embedder(root + "/embedding", device="cpu", dtype=dtype)
embedder.embed_documents(texts[:2])
row = {"invariant": threads.products_ignore_thread_count(embedder.model.dtype, torch.get_num_threads())}
setting = torch.get_num_threads()
vectors = {}
for count in (1, setting):
    torch.set_num_threads(count)
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        vectors[count] = np.asarray(embedder.embed_documents(texts))
        best = min(best, time.perf_counter() - started)
    row[f"{count} thread(s) s"] = round(best, 3)
torch.set_num_threads(setting)
row["max |1 thread - all|"] = float(np.abs(vectors[1] - vectors[setting]).max())
print(json.dumps(row))
"""


def run(mode: str, dtype: str, root: Path, repeats: int) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", WORKER, mode, dtype, str(root), str(repeats)],
        check=True,
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    return {"mode": mode, "dtype": dtype, **json.loads(out.stdout.strip().splitlines()[-1])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        import torch

        workload.write_checkpoints(root, torch.float32, "cpu", None)
        for mode in ("mkl-strict", "mkl-default"):
            rows.append({**run(mode, "float32", root, args.repeats), "load": "quiet"})
        rows.append({**run("mkl-strict", "bfloat16", root, args.repeats), "load": "quiet"})
        busy = subprocess.Popen([sys.executable, "-c", BUSY])
        try:
            time.sleep(1)
            rows.append({**run("mkl-strict", "bfloat16", root, args.repeats), "load": "one busy process"})
        finally:
            busy.kill()
            busy.wait()
    header = "| dtype | MKL mode | load | products thread-invariant | 1 thread (s) | all threads (s) | max diff |"
    lines = [header, "|---|---|---|---|---|---|---|"]
    for row in rows:
        one, every = row["1 thread(s) s"], [v for k, v in row.items() if k.endswith("thread(s) s")][-1]
        lines.append(
            f"| {row['dtype']} | {row['mode']} | {row['load']} | {row['invariant']} | {one} | {every} "
            f"| {row['max |1 thread - all|']:.2g} |"
        )
    table = "\n".join(lines)
    print(f"CPU: {cpu_name()}\n{table}")
    save(args.out, {"cpu": cpu_name(), "rows": rows}, table)


if __name__ == "__main__":
    main()
