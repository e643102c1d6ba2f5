"""Guards around each forward pass: split a batch that runs out of device memory, refuse non-finite output."""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import torch

from ..errors import NonFiniteOutputError


def split_on_out_of_memory(run: Callable[[list[int]], np.ndarray], batch: list[int]) -> np.ndarray:
    """`run(batch)`; on a device out-of-memory, the two halves run separately, down to one item.

    Only `torch.OutOfMemoryError` is caught: any other failure is a real error. Rows come back in
    `batch` order, equal to an unsplit run because no item's output depends on its batch. One
    warning per call says that it happened.
    """
    warned = False

    def attempt(part: list[int]) -> np.ndarray:
        nonlocal warned
        try:
            return run(part)
        except torch.OutOfMemoryError:
            if len(part) == 1:
                raise
        if not warned:
            warnings.warn(
                f"out of device memory on a batch of {len(part)}; retried it in smaller parts "
                "(a smaller batch_tokens avoids the retry)",
                stacklevel=3,
            )
            warned = True
        _release_cached_memory()
        half = len(part) // 2
        return np.concatenate([attempt(part[:half]), attempt(part[half:])])

    return attempt(batch)


def _release_cached_memory() -> None:
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    elif torch.backends.mps.is_available():
        torch.mps.empty_cache()


def check_finite(values: torch.Tensor, dtype: torch.dtype, what: str) -> torch.Tensor:
    """`values` unchanged, or an error naming the dtype and the fix when any is NaN or infinite."""
    if not bool(torch.isfinite(values).all()):
        raise NonFiniteOutputError(
            f"the model produced NaN or infinite {what} in {str(dtype).removeprefix('torch.')}; this is a known "
            "overflow of some Qwen3 checkpoints in float16. Load with dtype='bfloat16' (GPU) or 'float32'"
        )
    return values
