"""What every engine runner shares: its command line, the timed rounds, and what it writes.

Imported by the runners in their own environments (numpy and the standard library only). A runner is

    python bench/peers/engine_X.py prepare --model-dir CKPT --work DIR --variant V
    python bench/peers/engine_X.py run --work DIR --variant V --inputs rounds.json --threads N --out OUT

`prepare` converts the checkpoint (once per work folder; its time is written to DIR/prepare-V.json) in a
process of its own, so that `run`'s peak RSS is the engine's load and inference only. `run` loads the
converted model with N threads, embeds round 0 (warm-up), then each timed round; every round has texts
no round before it had. It writes OUT/vectors.npy (the L2-normalised vectors of every round, warm-up
included, in order) and OUT/result.json (median seconds of the timed rounds, each round's seconds, the
tokens the engine itself fed its model per round, /proc/loadavg before each round, peak RSS (VmHWM;
getrusage's ru_maxrss too), the load time, and what the engine says about its settings).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

# The official Qwen3-Embedding layout: left padding, the text's last token (<|endoftext|>) pooled.
END_OF_TEXT_ID = 151643


def loadavg() -> str:
    try:
        with open("/proc/loadavg") as f:
            return f.read().strip()
    except OSError:
        return "unknown"


def peak_rss_bytes() -> int:
    """This process's peak RSS: VmHWM, the high-water mark of its own address space.

    getrusage's ru_maxrss is not used for the table: Linux carries it across fork and exec, so a runner
    started by the driver would report at least the driver's RSS at the fork (it is still recorded).
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return ru_maxrss_bytes()


def ru_maxrss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def length_sorted_batches(lengths: list[int], batch_size: int) -> list[list[int]]:
    """Indices in batches of texts of similar length (longest first), as sentence-transformers orders them,
    so that padded engines pad little."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]


def padded_batch(ids: list[list[int]], pad_id: int = END_OF_TEXT_ID) -> tuple[np.ndarray, np.ndarray]:
    """Left-padded int64 input_ids and attention_mask, as the official code builds them."""
    width = max(len(x) for x in ids)
    input_ids = np.full((len(ids), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(ids), width), dtype=np.int64)
    for row, x in enumerate(ids):
        input_ids[row, width - len(x) :] = x
        mask[row, width - len(x) :] = 1
    return input_ids, mask


def hf_tokenizer(model_dir: Path):
    """The checkpoint's own tokenizer (it appends <|endoftext|>), as optimum and sentence-transformers use it."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(model_dir)


def token_ids(tokenizer, texts: list[str]) -> list[list[int]]:
    ids = tokenizer(texts, add_special_tokens=True)["input_ids"]
    if any(not x or x[-1] != END_OF_TEXT_ID for x in ids):
        raise RuntimeError("the tokenizer does not end texts with <|endoftext|>")
    return ids


def arguments(variants: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("action", choices=["prepare", "run"])
    parser.add_argument("--variant", required=True, choices=variants)
    parser.add_argument("--work", type=Path, required=True, help="converted models are kept here")
    parser.add_argument("--model-dir", type=Path, help="the Hugging Face checkpoint")
    parser.add_argument("--inputs", type=Path, help="JSON list of rounds, each {'texts': [...]} (run)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=8, help="texts per padded batch, where the engine pads")
    parser.add_argument("--batch-tokens", type=int, default=1024, help="tokens per packed batch (llama.cpp)")
    parser.add_argument("--flash-attn", action="store_true", help="llama.cpp's flash attention (off by default there)")
    parser.add_argument("--out", type=Path, help="vectors.npy and result.json go here (run)")
    return parser.parse_args()


def prepare(args: argparse.Namespace, convert: Callable[[Path, Path, str], dict]) -> None:
    """convert(model_dir, work, variant) -> facts; timed and written to work/prepare-<variant>.json."""
    args.work.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    facts = convert(args.model_dir, args.work, args.variant) or {}
    record = {
        "variant": args.variant,
        "seconds": time.perf_counter() - start,
        "peak_rss_bytes": peak_rss_bytes(),
        "children_peak_rss_bytes": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024,  # a converter
    }
    record.update(facts)
    (args.work / f"prepare-{args.variant}.json").write_text(json.dumps(record, indent=1))
    print(json.dumps(record), flush=True)


def run(args: argparse.Namespace, load: Callable[[argparse.Namespace], tuple[Callable, dict]]) -> None:
    """load(args) -> (embed(texts) -> (vectors, tokens fed), facts about the engine); args has work, variant,
    threads, batch_size and model_dir."""
    rounds = json.loads(args.inputs.read_text())
    start = time.perf_counter()
    embed, facts = load(args)
    load_seconds = time.perf_counter() - start
    rss_after_load = peak_rss_bytes()
    vectors, times, tokens, loads = [], [], [], []
    for number, inputs in enumerate(rounds):
        loads.append(loadavg())
        start = time.perf_counter()
        out, fed = embed(inputs["texts"])
        seconds = time.perf_counter() - start
        vectors.append(normalise(out))
        tokens.append(fed() if callable(fed) else fed)  # a count that would cost time is taken after the clock
        if number > 0:
            times.append(seconds)
        print(f"round {number}: {seconds:.3f}s {fed} tokens", file=sys.stderr, flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    np.save(args.out / "vectors.npy", np.concatenate(vectors))
    result = {
        "seconds": statistics.median(times) if times else None,
        "times": times,
        "tokens_fed_per_round": tokens,
        "loadavg_before_rounds": loads,
        "load_seconds": load_seconds,
        "peak_rss_bytes": peak_rss_bytes(),
        "peak_rss_after_load_bytes": rss_after_load,
        "ru_maxrss_bytes": ru_maxrss_bytes(),
        "threads": args.threads,
        "batch_size": args.batch_size,
        "affinity": sorted(os.sched_getaffinity(0)),
        "python": sys.version.split()[0],
    }
    result.update(facts)
    (args.out / "result.json").write_text(json.dumps(result, indent=1))


def main(variants: list[str], convert: Callable, load: Callable) -> None:
    args = arguments(variants)
    if args.action == "prepare":
        prepare(args, convert)
    else:
        run(args, load)
