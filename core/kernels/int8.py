"""The opt-in int8 mode on CPU: int8 weights per output channel, int8 activations per token.

Only the decoder's linear layers change. Each product runs as an int8 x int8 -> int32 matrix
product (`torch._int_mm`, oneDNN: VNNI or AMX where the CPU has them), then is scaled back to fp32
by the token's and the channel's scales. Norms, rotary embedding, pooling and the yes/no head stay
fp32, as in the fp32 mode. Attention stays fp32 too, except on a CPU with bfloat16 units (AVX512-BF16,
AMX), where it runs in bfloat16 (`loading.py`): once the products are int8, fp32 attention was a
fifth of the pass, and in bfloat16 it costs less than half as much, for a small share of the
mode's distance from fp32 (bench/RESULTS.md, "The int8 mode's tolerance").

Rows go through in chunks: an int32 product of 2,048 tokens by 6,144 channels is 50 MB, and
scaling it back in one piece cost as much as the product itself; a chunk's stays in cache.
"""

from __future__ import annotations

import functools
import os
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import SimpleNamespace
from typing import Any

import torch
from torch import nn

from .runtime import cpu_flags, proc_cpuinfo

INT8_MAX = 127
CHUNK_VALUES = 128 * 6144  # an int32 block of 3 MiB stays in a core's L2 while it is scaled back
LINEAR_NAMES = {"self_attn": ("q_proj", "k_proj", "v_proj", "o_proj"), "mlp": ("gate_proj", "up_proj", "down_proj")}


def quantize_rows(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric int8 codes of each row of `x`, and each row's scale (rows, 1): x ~ codes * scale."""
    # The largest magnitude as max(amax, -amin): two vectorised reductions and no |x| copy, 2.4x faster on
    # one core than abs().amax() (itself 5x faster than vector_norm(ord=inf)); the same value exactly.
    largest = torch.maximum(x.amax(dim=1, keepdim=True), x.amin(dim=1, keepdim=True).neg_())
    scale = largest.clamp_(min=torch.finfo(torch.float32).tiny).div_(INT8_MAX)
    return torch.div(x, scale).round_().to(torch.int8), scale


class Int8Linear(nn.Module):
    """A linear layer with int8 weights (a scale per output channel) and int8 activations (one per token)."""

    weight_t: torch.Tensor
    weight_scale: torch.Tensor
    bias: torch.Tensor | None

    def __init__(self, linear: Any):
        """From an `nn.Linear` or anything with its `weight` (out, in) and `bias` (out or None)."""
        super().__init__()
        weight = linear.weight.detach().float()
        codes, scale = quantize_rows(weight)
        self.out_features, self.in_features = weight.shape
        self.register_buffer("weight_t", codes.t())  # (in, out), transposed view: what _int_mm reads
        self.register_buffer("weight_scale", scale.view(1, -1).contiguous())
        bias = None if linear.bias is None else linear.bias.detach().float().clone()
        self.register_buffer("bias", bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.reshape(-1, self.in_features).float()
        out = torch.empty(flat.shape[0], self.out_features, dtype=torch.float32, device=x.device)
        step = max(1, CHUNK_VALUES // self.out_features)
        for start in range(0, flat.shape[0], step):
            rows = slice(start, start + step)
            codes, scale = quantize_rows(flat[rows])
            out[rows].copy_(torch._int_mm(codes, self.weight_t)).mul_(scale).mul_(self.weight_scale)
        if self.bias is not None:
            out += self.bias
        return out.view(*x.shape[:-1], self.out_features)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, int8"


def quantize_decoder(backbone: Any) -> None:
    """Replace every linear layer of the decoder layers by its `Int8Linear`, in place (fp32 weights freed)."""
    for layer in backbone.layers:
        for block_name, names in LINEAR_NAMES.items():
            block = getattr(layer, block_name)
            for name in names:
                setattr(block, name, Int8Linear(getattr(block, name)))


# Flags of the int8 dot-product units that oneDNN's int8 x int8 -> int32 products run on, as Linux's
# /proc/cpuinfo and torch.cpu.get_capabilities() name them: AVX512-VNNI, AVX-VNNI (and its INT8
# extension), AMX-INT8. Where one is reported, int8 is the faster mode (its product 2.7x faster on a
# Zen 4, 3-5x on one core of this project's AMX Xeon) and nothing is timed. Elsewhere (AVX2 alone, Arm,
# whose dot-product flags this torch build's product may or may not use) the probe times.
# torch.backends.cpu.get_cpu_capability() does not tell: its "AVX512" is there with or without VNNI.
INT8_UNITS = frozenset({"avx512_vnni", "avx_vnni", "avx_vnni_int8", "amx_int8"})
# Variables that cap the instructions oneDNN may use: with one of them set, the flags no longer say what runs.
ONEDNN_ISA_LIMITS = ("ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA")

# The timed probe: paired rounds of one fp32 and one int8 product of (ROWS, WIDTH) by (WIDTH, 3 * WIDTH),
# at least PROBE_MIN_ROUNDS, no new round after PROBE_BUDGET_S: about 0.3 s in all on a quiet 2-core Xeon.
PROBE_ROWS, PROBE_WIDTH = 128, 1024
PROBE_ROUNDS, PROBE_MIN_ROUNDS, PROBE_BUDGET_S = 15, 5, 0.2
# int8 counts as slower only beyond this factor: in its best time and in most rounds.
SLOWER_MARGIN = 1.1

Rounds = Sequence[tuple[float, float]]  # seconds of the fp32 and of the int8 product, round by round


def usable_cpu_flags() -> frozenset[str]:
    """The CPU's feature flags, as torch (`torch.cpu.get_capabilities()`, where this torch has it) and
    /proc/cpuinfo report them; empty where oneDNN, which runs the int8 product, may not use them all
    (this torch has no oneDNN, or the environment caps its instruction set)."""
    if not torch.backends.mkldnn.is_available() or any(os.environ.get(name) for name in ONEDNN_ISA_LIMITS):
        return frozenset()
    capabilities: Mapping[str, object] = getattr(torch.cpu, "get_capabilities", dict)()  # not in older torch
    reported = {name for name, value in capabilities.items() if value is True}
    return frozenset(reported) | cpu_flags(proc_cpuinfo())


def measured_slower(rounds: Rounds) -> bool:
    """Whether paired rounds of (fp32, int8) seconds show int8 slower by a clear margin, consistently: its
    best time beyond SLOWER_MARGIN x fp32's best, and beyond SLOWER_MARGIN x the fp32 time of its own
    round in most rounds. A busy machine only adds time, unevenly: a best time is the nearest to the
    CPU's own speed, and one stalled round (or a few) decides nothing. No rounds: no verdict, False."""
    if not rounds:
        return False
    best_fp32, best_int8 = min(fp32 for fp32, _ in rounds), min(int8 for _, int8 in rounds)
    slower_rounds = sum(int8 > fp32 * SLOWER_MARGIN for fp32, int8 in rounds)
    return best_int8 > best_fp32 * SLOWER_MARGIN and 2 * slower_rounds > len(rounds)


def int8_is_slower(flags: Iterable[str], timings: Callable[[], Rounds]) -> bool:
    """Whether dtype='int8' runs slower than float32 on a CPU with these `flags`: never where they name an
    int8 dot-product unit (INT8_UNITS; `timings` is then not called), else as `measured_slower` finds
    the paired rounds that `timings()` gives."""
    if INT8_UNITS & set(flags):
        return False
    return measured_slower(timings())


def paired_timings(
    rows: int = PROBE_ROWS,
    width: int = PROBE_WIDTH,
    rounds: int = PROBE_ROUNDS,
    min_rounds: int = PROBE_MIN_ROUNDS,
    budget_s: float = PROBE_BUDGET_S,
) -> list[tuple[float, float]]:
    """Seconds of one fp32 and one int8 product of a (rows, width) by (width, 3 * width) shape, round by
    round: `rounds` of them, or fewer once `budget_s` has passed (never under `min_rounds`).

    Interleaved, and in turn fp32 first and int8 first, so that a spell of load falls on both alike.
    On one thread: a product on several threads ends at a barrier, and beside a busy process a thread
    that shares a core stalls it (threads.py). The int8 product is a dozen parallel steps (quantising,
    the product, scaling back) where the fp32 one is a single one: on 2 threads of a 2-core Xeon beside
    a busy process it took 40-170 ms in most rounds against 12-30 ms for fp32, where on one thread it
    is 4x faster. One core's speed is what the int8 units decide. torch's thread count is put back after.
    """
    generator = torch.Generator().manual_seed(0)
    weight = torch.rand(3 * width, width, generator=generator).sub_(0.5)  # uniform: cheaper to draw than randn
    quantized = Int8Linear(SimpleNamespace(weight=weight, bias=None))
    x = torch.rand(rows, width, generator=generator).sub_(0.5)

    def fp32_product() -> float:
        start = time.perf_counter()
        torch.nn.functional.linear(x, weight)
        return time.perf_counter() - start

    def int8_product() -> float:
        start = time.perf_counter()
        quantized(x)
        return time.perf_counter() - start

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.inference_mode():
            fp32_product(), int8_product()  # first calls: oneDNN picks and caches its kernels
            timings: list[tuple[float, float]] = []
            start = time.perf_counter()
            while len(timings) < rounds and (len(timings) < min_rounds or time.perf_counter() - start < budget_s):
                if len(timings) % 2 == 0:
                    fp32 = fp32_product()
                    timings.append((fp32, int8_product()))
                else:
                    int8 = int8_product()
                    timings.append((fp32_product(), int8))
            return timings
    finally:
        torch.set_num_threads(threads)


@functools.cache
def this_cpu_timings() -> tuple[tuple[float, float], ...]:
    """`paired_timings()` on this CPU, taken once per process, not again for each model loaded in int8."""
    return tuple(paired_timings())


def warn_if_slower(flags: Iterable[str] | None = None, timings: Callable[[], Rounds] | None = None) -> None:
    """Warn when dtype='int8' runs slower than float32 here (`int8_is_slower`): from this CPU's flags
    (`usable_cpu_flags()`) where they name an int8 unit, else from `this_cpu_timings()`."""
    flags = usable_cpu_flags() if flags is None else flags
    timings = this_cpu_timings if timings is None else timings
    if int8_is_slower(flags, timings):
        rounds = timings()
        fp32, int8 = min(fp32 for fp32, _ in rounds), min(int8 for _, int8 in rounds)
        warnings.warn(
            f"dtype='int8' measured slower than float32 on this CPU ({int8 * 1e3:.1f} ms against "
            f"{fp32 * 1e3:.1f} ms for one product, the best of {len(rounds)} interleaved rounds; no VNNI or "
            f"AMX int8 units reported); use dtype='float32' here",
            stacklevel=4,
        )
