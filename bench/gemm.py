"""Rates of the 0.6B shape's linear-layer products on this CPU, against its measured fp32 peak.

    python bench/gemm.py            # also run by bench/run.py, and recorded with its results

The row counts are what packed batches give: 2,048 tokens (the CPU token budget) and 256 (a
short batch). "int8" is the whole `Int8Linear` (quantising the activations per token, the int8
product, scaling back); "int8 product" is `torch._int_mm` alone. Rates count 2·rows·in·out
operations, so int8 figures are fp32-equivalent GFLOP/s.
"""

from __future__ import annotations

import json
import time
from functools import partial

import torch

from qwen3_rag.kernels.int8 import Int8Linear, quantize_rows

# (out, in) of each linear layer of Qwen3-0.6B: q, k and v, o, gate and up, down.
SHAPES = {
    "q_proj": (2048, 1024),
    "k_proj/v_proj": (1024, 1024),
    "o_proj": (1024, 2048),
    "gate_proj/up_proj": (3072, 1024),
    "down_proj": (1024, 3072),
}
ROWS = (2048, 256)


def _seconds(run, repeats: int = 5) -> float:
    run()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def peak_fp32(size: int = 4096) -> float:
    """GFLOP/s of one large square fp32 product: what this CPU's BLAS reaches at its best."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    return 2 * size**3 / _seconds(lambda: a @ b, 3) / 1e9


@torch.inference_mode()
def linear_rates() -> dict:
    """Peak, and per shape and row count the GFLOP/s of fp32 F.linear, the int8 layer and the int8 product alone."""
    generator = torch.Generator().manual_seed(0)
    rates: dict = {"threads": torch.get_num_threads(), "fp32_peak_gflops": round(peak_fp32(), 1), "shapes": {}}
    for name, (out, width) in SHAPES.items():
        linear = torch.nn.Linear(width, out, bias=False)
        linear.weight.copy_(torch.randn(out, width, generator=generator) * 0.02)
        quantized = Int8Linear(linear)
        for rows in ROWS:
            x = torch.randn(rows, width, generator=generator)
            codes, _ = quantize_rows(x)
            flops = 2 * rows * out * width / 1e9
            runs = {
                "fp32": partial(linear, x),
                "int8": partial(quantized, x),
                "int8 product": partial(torch._int_mm, codes, quantized.weight_t),
            }
            rates["shapes"][f"{name} {rows}x{width}->{out}"] = {
                kind: round(flops / _seconds(run), 1) for kind, run in runs.items()
            }
    return rates


if __name__ == "__main__":
    print(json.dumps(linear_rates(), indent=1))
