"""Rates of the 0.6B shape's linear-layer products on this CPU, against its measured peak in each arithmetic.

    python bench/gemm.py                  # torch's thread count (also run by bench/run.py, and recorded)
    python bench/gemm.py --threads 1      # one core: what per-core efficiency is made of
    python bench/gemm.py --threads 1 2 --out out/gemm

The row counts are what packed batches give: 2,048 tokens (the CPU token budget) and 256 (a
short batch). Per shape: fp32 `F.linear`; bf16 `F.linear` (the bf16 mode's product); "int8" is the
whole `Int8Linear` (quantising the activations per token, the int8 product, scaling back); "int8
product" is `torch._int_mm` alone. Rates count 2·rows·in·out operations, so bf16 and int8 figures
are fp32-equivalent GFLOP/s.

Each arithmetic's peak is the best rate of square products of 1,024, 2,048 and 4,096 in it here (on one
core of the project's Xeon the best size is 1,024 for bf16 and int8, 2,048 for fp32; 4,096 spills out
of cache): what this CPU's oneDNN attains, not a datasheet figure (a virtual machine does not show its
clock). Each shape's share of that peak is in the table the script prints. bf16 is measured
only where the CPU has bfloat16 units; elsewhere oneDNN emulates it and the figure would mislead.
"""

from __future__ import annotations

import argparse
import time
from functools import partial
from pathlib import Path

import torch
from report import cpu_flags, cpu_name, save

from qwen3_rag.kernels.int8 import Int8Linear, quantize_rows
from qwen3_rag.kernels.runtime import cpu_runs_bf16_natively

# (out, in) of each linear layer of Qwen3-0.6B: q, k and v, o, gate and up, down.
SHAPES = {
    "q_proj": (2048, 1024),
    "k_proj/v_proj": (1024, 1024),
    "o_proj": (1024, 2048),
    "gate_proj/up_proj": (3072, 1024),
    "down_proj": (1024, 3072),
}
ROWS = (2048, 256)
PEAK_SIZES = (1024, 2048, 4096)  # in cache at one end, memory-bound at the other: the best of them
# Each kind of product, and the peak its share is taken against.
PEAK_OF = {"fp32": "fp32", "bf16": "bf16", "int8": "int8", "int8 product": "int8"}


def _seconds(run, repeats: int = 5) -> float:
    run()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def peaks(sizes: tuple[int, ...] = PEAK_SIZES, bf16: bool = True) -> dict[str, float]:
    """GFLOP/s (fp32-equivalent) of the fastest square product of `sizes` in fp32, bf16 (if `bf16`) and int8,
    its second operand laid out as a linear layer's weight is read (the transpose of a row-major matrix)."""
    generator = torch.Generator().manual_seed(0)
    rates: dict[str, float] = {}
    for size in sizes:
        a, weight = torch.randn(size, size, generator=generator), torch.randn(size, size, generator=generator)
        a8 = torch.randint(-127, 128, (size, size), dtype=torch.int8, generator=generator)
        weight8 = torch.randint(-127, 128, (size, size), dtype=torch.int8, generator=generator)
        runs = {"fp32": partial(torch.mm, a, weight.t()), "int8": partial(torch._int_mm, a8, weight8.t())}
        if bf16:
            runs["bf16"] = partial(torch.mm, a.bfloat16(), weight.bfloat16().t())
        for kind, run in runs.items():
            rates[kind] = max(rates.get(kind, 0.0), 2 * size**3 / 1e9 / _seconds(run, 3))
    return {kind: round(rates[kind], 1) for kind in ("fp32", "bf16", "int8") if kind in rates}


@torch.inference_mode()
def linear_rates(threads: int | None = None) -> dict:
    """Peaks, and per shape and row count the GFLOP/s of each product kind, on `threads` (None: torch's)."""
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        return _linear_rates()
    finally:
        torch.set_num_threads(previous)


def _linear_rates() -> dict:
    bf16 = cpu_runs_bf16_natively()
    generator = torch.Generator().manual_seed(0)
    peak = peaks(bf16=bf16)
    rates: dict = {
        "threads": torch.get_num_threads(),
        "peak_gflops": peak,
        "shapes": {},
    }
    for name, (out, width) in SHAPES.items():
        linear = torch.nn.Linear(width, out, bias=False)
        linear.weight.copy_(torch.randn(out, width, generator=generator) * 0.02)
        quantized = Int8Linear(linear)
        weight16 = linear.weight.bfloat16()
        for rows in ROWS:
            x = torch.randn(rows, width, generator=generator)
            x16 = x.bfloat16()
            codes, _ = quantize_rows(x)
            flops = 2 * rows * out * width / 1e9
            runs = {
                "fp32": partial(linear, x),
                "int8": partial(quantized, x),
                "int8 product": partial(torch._int_mm, codes, quantized.weight_t),
            }
            if bf16:
                runs["bf16"] = partial(torch.nn.functional.linear, x16, weight16)
            rates["shapes"][f"{name} {rows}x{width}->{out}"] = {
                kind: round(flops / _seconds(run), 1) for kind, run in runs.items()
            }
    return rates


def table(rates: dict) -> str:
    """Markdown: each shape's GFLOP/s and its share of the peak of its arithmetic."""
    peak = rates["peak_gflops"]
    kinds = [kind for kind in PEAK_OF if PEAK_OF[kind] in peak]
    lines = [
        f"{rates['threads']} thread(s); peaks (best square product): "
        + ", ".join(f"{kind} {value:,.0f} GFLOP/s" for kind, value in peak.items()),
        "",
        "| product (rows x in -> out) | " + " | ".join(kinds) + " |",
        "|---|" + "---|" * len(kinds),
    ]
    for shape, measured in rates["shapes"].items():
        cells = [f"{measured[kind]:,.0f} ({measured[kind] / peak[PEAK_OF[kind]]:.0%})" for kind in kinds]
        lines.append(f"| {shape} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, nargs="+", default=None, help="default: torch's thread count")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    runs = [linear_rates(threads) for threads in (args.threads or [None])]
    result = {"cpu": cpu_name(), "cpu_flags": cpu_flags(), "torch": torch.__version__, "runs": runs}
    tables = "\n\n".join(table(rates) for rates in runs)
    print(f"CPU: {result['cpu']} ({' '.join(result['cpu_flags'])})\n\n{tables}")
    save(args.out, result, tables)


if __name__ == "__main__":
    main()
