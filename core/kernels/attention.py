"""Causal attention over packed sequences, and the choice of path for a loaded model.

Paths, reported as `LoadedModel.attention_path`:
- "packed-sdpa": CPU. Linear layers on real tokens only; PyTorch SDPA once per sequence.
- "packed-flash-attn": CUDA with the `flash-attn` package: FlashAttention-2 varlen, no padding.
- "packed-torch-varlen": CUDA without `flash-attn`: PyTorch's own `varlen_attn` (torch >= 2.10).
- "packed-sdpa-bf16": CPU in the int8 mode where the CPU has bfloat16 units: "packed-sdpa" on
  bfloat16 copies of the queries, keys and values (see `int8.py`).
- "padded-sdpa": anything else (fp32 on CUDA, MPS, older torch, configs the packed pass does not
  cover): transformers' own forward on right-padded batches, which needs no mask.

A CUDA varlen kernel is used only after it matched per-sequence SDPA on a small case at load time.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable

import torch
import torch.nn.functional as F

from .packing import KV, Attend, Packed, pack

# (q, k, v, cu_seqlens_q, cu_seqlens_k, max_q, max_k, scale) -> out; causal, bottom-right aligned, GQA.
VarlenKernel = Callable[..., torch.Tensor]


def sdpa_per_sequence(
    queries: torch.Tensor,
    keys: torch.Tensor,
    values: torch.Tensor,
    packed: Packed,
    scale: float,
    *,
    last_only: bool,
    head: KV | None,
) -> torch.Tensor:
    """One SDPA call per sequence: no padded positions are ever computed (CPU default)."""
    out = torch.empty_like(queries)
    for i in range(packed.count):
        start, end = packed.starts[i], packed.starts[i + 1]
        k, v = keys[start:end], values[start:end]
        if head is not None:
            k, v = torch.cat([head[0], k]), torch.cat([head[1], v])
        rows = slice(i, i + 1) if last_only else slice(start, end)
        q = queries[rows]
        mask = _bottom_right_causal(q.shape[0], k.shape[0], q.device)
        mixed = F.scaled_dot_product_attention(
            _heads_first(q),
            _heads_first(k),
            _heads_first(v),
            attn_mask=mask,
            is_causal=q.shape[0] == k.shape[0] and q.shape[0] > 1,
            scale=scale,
            enable_gqa=True,
        )
        out[rows] = mixed[0].transpose(0, 1)
    return out


def in_bfloat16(attend: Attend) -> Attend:
    """`attend` run on bfloat16 copies of its inputs, its output back in float32 (the int8 mode on a CPU
    with bfloat16 units: PyTorch's CPU flash kernel runs 2.3x faster so, conversions included)."""

    def attend_in_bfloat16(queries, keys, values, packed, scale, *, last_only, head):
        shared = None if head is None else (head[0].bfloat16(), head[1].bfloat16())
        mixed = attend(
            queries.bfloat16(), keys.bfloat16(), values.bfloat16(), packed, scale, last_only=last_only, head=shared
        )
        return mixed.float()

    return attend_in_bfloat16


def _heads_first(x: torch.Tensor) -> torch.Tensor:
    """(tokens, heads, head_dim) as a contiguous (1, heads, tokens, head_dim) block.

    The copy pays for itself: PyTorch's CPU flash kernel ran 10-20 % faster on contiguous heads than on
    the strided view of the packed rows (300-600 tokens, one core), with the same bits out.
    """
    return x.transpose(0, 1).contiguous()[None]


def _bottom_right_causal(query_count: int, key_count: int, device: torch.device) -> torch.Tensor | None:
    """Mask for queries that are the last `query_count` of `key_count` positions; None where none is needed."""
    if query_count == key_count or query_count == 1:
        return None  # plain causal (SDPA's is_causal), or a last token that sees everything
    return torch.ones(query_count, key_count, dtype=torch.bool, device=device).tril(key_count - query_count)


def varlen(kernel: VarlenKernel) -> Attend:
    """An `Attend` over a FlashAttention-style varlen kernel: one call for the whole batch."""

    def attend(queries, keys, values, packed, scale, *, last_only, head):
        lengths = torch.tensor(packed.starts).diff()
        key_lengths = lengths
        if head is not None:
            order = _head_before_each(head[0].shape[0], packed.starts, keys.device)
            keys, values = torch.cat([head[0], keys])[order], torch.cat([head[1], values])[order]
            key_lengths = lengths + head[0].shape[0]
        query_lengths = torch.ones_like(lengths) if last_only else lengths
        return kernel(
            queries,
            keys,
            values,
            _cumulative(query_lengths, queries.device),
            _cumulative(key_lengths, queries.device),
            int(query_lengths.max()),
            int(key_lengths.max()),
            scale,
        )

    return attend


def _head_before_each(head_length: int, starts: list[int], device: torch.device) -> torch.Tensor:
    """Rows of cat(head, packed rows) that give: head, seq 0, head, seq 1, ...

    One gather for the whole batch, not a concatenation per sequence (launches count on a GPU).
    """
    lengths = torch.tensor(starts, device=device).diff()
    sequence = torch.repeat_interleave(torch.arange(len(lengths), device=device), lengths + head_length)
    first = F.pad((lengths + head_length).cumsum(0), (1, 0))[sequence]  # each output row's sequence start
    offset = torch.arange(sequence.shape[0], device=device) - first
    own_row = torch.tensor(starts[:-1], device=device)[sequence] + offset  # packed rows sit after the head
    return torch.where(offset < head_length, offset, own_row)


def _cumulative(lengths: torch.Tensor, device: torch.device) -> torch.Tensor:
    return F.pad(lengths.cumsum(0), (1, 0)).to(device=device, dtype=torch.int32)


def _flash_attn_kernel() -> VarlenKernel | None:
    try:
        from flash_attn import flash_attn_varlen_func
    except ImportError:
        return None

    def kernel(q, k, v, cu_q, cu_k, max_q, max_k, scale):
        return flash_attn_varlen_func(q, k, v, cu_q, cu_k, max_q, max_k, softmax_scale=scale, causal=True)

    return kernel


def _torch_varlen_kernel() -> VarlenKernel | None:
    try:
        from torch.nn.attention.varlen import varlen_attn
    except ImportError:
        return None
    if not {"window_size", "enable_gqa", "scale"} <= set(inspect.signature(varlen_attn).parameters):
        return None  # the first releases had neither causal windows nor grouped heads

    def kernel(q, k, v, cu_q, cu_k, max_q, max_k, scale):
        return varlen_attn(q, k, v, cu_q, cu_k, max_q, max_k, scale=scale, window_size=(-1, 0), enable_gqa=True)

    return kernel


def choose(device: torch.device, dtype: torch.dtype, unsupported_reason: str | None) -> tuple[str, Attend | None]:
    """The attention path for a model on `device` in `dtype`, and its packed `Attend` (None: padded)."""
    if unsupported_reason is not None:
        return "padded-sdpa", None
    if device.type == "cpu":
        return "packed-sdpa", sdpa_per_sequence
    if device.type == "cuda" and dtype in (torch.bfloat16, torch.float16):  # FlashAttention-2 has no fp32
        for name, make in (("packed-flash-attn", _flash_attn_kernel), ("packed-torch-varlen", _torch_varlen_kernel)):
            kernel = make()
            if kernel is not None and agrees_with_sdpa(kernel, device, dtype, name):
                return name, varlen(kernel)
    return "padded-sdpa", None


def agrees_with_sdpa(
    kernel: VarlenKernel, device: torch.device, dtype: torch.dtype, name: str = "the varlen kernel"
) -> bool:
    """Whether `kernel` matches per-sequence SDPA on a small case with a shared head, GQA and last-only queries.

    Run once per load: a kernel that aligns the causal mask differently (top-left instead of
    bottom-right), or fails on this device, is not used, and the padded path runs instead.
    """
    generator = torch.Generator().manual_seed(0)
    packed = pack([[0] * 3, [0] * 5, [0]], device)

    def sample(rows: int, heads: int) -> torch.Tensor:
        return torch.randn(rows, heads, 64, generator=generator).to(device, dtype)

    keys, values, head = sample(9, 2), sample(9, 2), (sample(4, 2), sample(4, 2))
    try:
        for queries, last_only in ((sample(9, 4), False), (sample(3, 4), True)):
            for shared in (None, head):
                expected = sdpa_per_sequence(queries, keys, values, packed, 0.125, last_only=last_only, head=shared)
                got = varlen(kernel)(queries, keys, values, packed, 0.125, last_only=last_only, head=shared)
                if got.shape != expected.shape or not torch.allclose(got.float(), expected.float(), atol=2e-2):
                    warnings.warn(f"{name} disagrees with PyTorch SDPA here; using padded batches", stacklevel=2)
                    return False
    except Exception as error:  # a probe: whatever the failure, the kernel is not used
        warnings.warn(f"{name} failed its check ({error}); using padded batches", stacklevel=2)
        return False
    return True
