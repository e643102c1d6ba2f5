"""Device and dtype choice: CUDA and bf16 when there is a GPU, CPU and fp32 otherwise."""

from __future__ import annotations

import functools

import torch

from ..errors import InvalidArgumentError
from ..settings import QUANTIZED_DTYPE_NAMES, TORCH_DTYPE_NAMES
from ..validation import check_positive_int

# The torch dtype of each name `dtype` takes; the names, and those of the int8 mode, are listed in settings.py.
_DTYPES: dict[str, torch.dtype] = {name: getattr(torch, canonical) for name, canonical in TORCH_DTYPE_NAMES.items()}
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


def quantized_mode(dtype: str | torch.dtype | None, device: torch.device) -> str | None:
    """ "int8" when `dtype` asks for the int8 mode (CPU only), else None."""
    if not (isinstance(dtype, str) and dtype.lower() in QUANTIZED_DTYPE_NAMES):
        return None
    if device.type != "cpu":
        raise InvalidArgumentError(
            f"dtype={dtype!r} is the CPU fast mode; on {device.type} use 'bfloat16' (or 'float32')"
        )
    return dtype.lower()


def resolve_dtype(dtype: str | torch.dtype | None, device: torch.device) -> torch.dtype:
    """The dtype of the model's tensors; the int8 mode keeps float32 outside its linear layers."""
    if quantized_mode(dtype, device) is not None:
        return torch.float32
    if dtype is None:
        # fp16 is never a default: the 8B embedder overflows to NaN in it on some inputs.
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    if isinstance(dtype, torch.dtype) and dtype in _DTYPES.values():
        return dtype
    if isinstance(dtype, str) and dtype.lower() in _DTYPES:
        return _DTYPES[dtype.lower()]
    raise InvalidArgumentError(
        f"dtype={dtype!r} is not supported; use 'float32', 'bfloat16', 'float16' (or the torch dtypes), "
        "'int8' (CPU fast mode) or None"
    )


# CPU flags of bfloat16 matrix units, as Linux lists them: AVX512-BF16 and AMX on x86, FEAT_BF16 on Arm.
BF16_CPU_FLAGS = frozenset({"avx512_bf16", "amx_bf16", "bf16"})


def cpu_flags(cpuinfo: str) -> frozenset[str]:
    """The feature flags in the text of /proc/cpuinfo ("flags" on x86, "Features" on Arm)."""
    flags: set[str] = set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            flags.update(value.split())
    return frozenset(flags)


def cpu_runs_bf16_natively(cpuinfo: str | None = None) -> bool:
    """Whether the CPU has bfloat16 matrix units (from its flags); False when it cannot tell.

    Not `torch.ops.mkldnn._is_mkldnn_bf16_supported()`: that is true on every AVX512 CPU, where
    oneDNN emulates bf16 about 3x slower than fp32.
    """
    if cpuinfo is None:
        cpuinfo = proc_cpuinfo()
    return bool(cpu_flags(cpuinfo) & BF16_CPU_FLAGS)


@functools.cache
def proc_cpuinfo() -> str:
    """The text of /proc/cpuinfo, read once; empty where there is none."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as info:
            return info.read()
    except OSError:  # not Linux: no way to tell here
        return ""


def default_token_budget(device: torch.device) -> int:
    """Tokens per forward pass (real tokens in a packed batch, texts x the longest in a padded one): large
    enough to fill a GPU, small enough for CPU caches.

    On a 2-core CPU, 0.6B-shape forward passes peaked near 2k tokens (261 tokens/s, against 205 at
    8k: activations past that size fall out of cache); see bench/RESULTS.md.
    """
    return 65536 if device.type == "cuda" else 2048


def token_budget(batch_tokens: int | None, device: torch.device) -> int:
    """The user's `batch_tokens`, validated, or the device's default."""
    return default_token_budget(device) if batch_tokens is None else check_positive_int(batch_tokens, "batch_tokens")
