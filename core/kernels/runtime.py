"""Device and dtype choice: CUDA and bf16 when there is a GPU, CPU and fp32 otherwise."""

from __future__ import annotations

import torch

from ..errors import InvalidArgumentError
from ..validation import check_positive_int

_DTYPES = {
    "float32": torch.float32, "fp32": torch.float32, "float": torch.float32,
    "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
    "float16": torch.float16, "fp16": torch.float16, "half": torch.float16,
}
_DEVICE_TYPES = ("cpu", "cuda", "mps")


def parse_device(device: str | torch.device) -> torch.device:
    """The device `device` names, checked for form only (a driver may check what only a worker has)."""
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise InvalidArgumentError(
            f"device={device!r} is not a device; use one of 'cpu', 'cuda', 'cuda:N', 'mps' or None (auto)"
        ) from error
    if resolved.type not in _DEVICE_TYPES:
        raise InvalidArgumentError(f"device={device!r} is not supported; use 'cpu', 'cuda', 'cuda:N' or 'mps'")
    return resolved


def resolve_device(device: str | torch.device | None) -> torch.device:
    if device is None:
        if torch.cuda.is_available():
            return torch.device("cuda", torch.cuda.current_device())
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    resolved = parse_device(device)
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise InvalidArgumentError(f"device={device!r} but this torch build sees no CUDA device")
        index = torch.cuda.current_device() if resolved.index is None else resolved.index
        if index >= torch.cuda.device_count():
            raise InvalidArgumentError(f"device={device!r} but only {torch.cuda.device_count()} CUDA device(s) exist")
        return torch.device("cuda", index)
    if resolved.type == "mps" and not torch.backends.mps.is_available():
        raise InvalidArgumentError(f"device={device!r} but MPS is not available here")
    return resolved


def resolve_dtype(dtype: str | torch.dtype | None, device: torch.device) -> torch.dtype:
    if dtype is None:
        # fp16 is never a default: the 8B embedder overflows to NaN in it on some inputs.
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    if isinstance(dtype, torch.dtype) and dtype in _DTYPES.values():
        return dtype
    if isinstance(dtype, str) and dtype.lower() in _DTYPES:
        return _DTYPES[dtype.lower()]
    raise InvalidArgumentError(
        f"dtype={dtype!r} is not supported; use 'float32', 'bfloat16', 'float16' (or the torch dtypes) or None"
    )


def cpu_runs_bf16_natively() -> bool:
    """Whether oneDNN finds bfloat16 matrix units (AVX512-BF16 or AMX) on this CPU; False when it cannot tell."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def default_token_budget(device: torch.device) -> int:
    """Padded tokens per forward pass: large enough to fill a GPU, small enough for CPU caches.

    On a 2-core CPU, 0.6B-shape forward passes peaked near 2k tokens (261 tokens/s, against 205 at
    8k: activations past that size fall out of cache); see bench/RESULTS.md.
    """
    return 65536 if device.type == "cuda" else 2048


def token_budget(batch_tokens: int | None, device: torch.device) -> int:
    """The user's `batch_tokens`, validated, or the device's default."""
    return default_token_budget(device) if batch_tokens is None else check_positive_int(batch_tokens, "batch_tokens")
