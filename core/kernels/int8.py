"""The opt-in int8 mode on CPU: int8 weights per output channel, int8 activations per token.

Only the decoder's linear layers change. Each product runs as an int8 x int8 -> int32 matrix
product (`torch._int_mm`, oneDNN: VNNI or AMX where the CPU has them), then is scaled back to fp32
by the token's and the channel's scales. Norms, rotary embedding, attention, pooling and the
yes/no head stay fp32, as in the fp32 mode.

Rows go through in chunks: an int32 product of 2,048 tokens by 6,144 channels is 50 MB, and
scaling it back in one piece cost as much as the product itself; a chunk's stays in cache.
"""

from __future__ import annotations

import functools
import time
import warnings
from typing import Any

import torch
from torch import nn

INT8_MAX = 127
CHUNK_VALUES = 128 * 6144  # an int32 block of 3 MiB stays in a core's L2 while it is scaled back
LINEAR_NAMES = {"self_attn": ("q_proj", "k_proj", "v_proj", "o_proj"), "mlp": ("gate_proj", "up_proj", "down_proj")}


def quantize_rows(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric int8 codes of each row of `x`, and each row's scale (rows, 1): x ~ codes * scale."""
    # abs().amax() beat vector_norm(ord=inf) 5x on CPU, whose inf-norm reduction is not vectorised.
    scale = x.abs().amax(dim=1, keepdim=True).clamp_(min=torch.finfo(torch.float32).tiny).div_(INT8_MAX)
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


@functools.cache
def timed_products(rows: int = 256, width: int = 1024, repeats: int = 3) -> tuple[float, float]:
    """Seconds of one fp32 and one int8 product of a (rows, width) by (width, 3 * width) shape on this CPU.

    A probe, so that loading can say when int8 would be slower here (no VNNI, an old oneDNN); taken
    once per process, not again for each model loaded in int8.
    """
    generator = torch.Generator().manual_seed(0)
    linear = nn.Linear(width, 3 * width, bias=False)
    with torch.no_grad():
        linear.weight.copy_(torch.randn(3 * width, width, generator=generator))
    quantized = Int8Linear(linear)
    x = torch.randn(rows, width, generator=generator)

    def best(run) -> float:
        run()  # first call: oneDNN picks and caches its kernel
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            run()
            times.append(time.perf_counter() - start)
        return min(times)

    with torch.inference_mode():
        return best(lambda: torch.nn.functional.linear(x, linear.weight)), best(lambda: quantized(x))


def warn_if_slower() -> None:
    """Warn when this CPU runs the int8 product slower than the fp32 one (measured, not guessed from flags)."""
    fp32, int8 = timed_products()
    if int8 >= fp32:
        warnings.warn(
            f"dtype='int8' measured slower than float32 on this CPU ({int8 * 1e3:.1f} ms against "
            f"{fp32 * 1e3:.1f} ms for one product); use dtype='float32' here",
            stacklevel=4,
        )
