"""Cosine similarity of two sets of vectors, from any model call or none (`Embedder.similarity`)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .errors import InvalidArgumentError, InvalidInputError


def cosine_similarity(a: ArrayLike, b: ArrayLike) -> NDArray[np.float32]:
    """Cosine similarity of every row of `a` with every row of `b`: float32, shape (len(a), len(b)), in [-1, 1].

    Each is an array-like (vectors, dim), or one vector (dim,) taken as one row. Rows are L2-normalised here, so
    vectors from anywhere compare; the models' own are unit vectors already.
    """
    left, right = _unit_rows(a, "a"), _unit_rows(b, "b")
    if left.shape[1] != right.shape[1]:
        raise InvalidArgumentError(
            f"a and b must have the same dim, got {left.shape[1]} and {right.shape[1]}; vectors of different "
            "sizes (another dim=, another model) do not compare"
        )
    # Unit vectors, yet a float32 dot product can round a few ulps past 1 (a vector with itself: 1.0000001);
    # a cosine is within [-1, 1], and callers threshold at 1 or take arccos.
    products = left @ right.T
    return np.clip(products, -1.0, 1.0, out=products)


def _unit_rows(vectors: ArrayLike, name: str) -> NDArray[np.float32]:
    """`vectors` as float32 rows of length 1, or raise naming `name` and what it must be."""
    try:
        array = np.asarray(vectors)
    except ValueError:  # ragged rows
        raise InvalidArgumentError(f"{name} must be vectors of one size, (vectors, dim); its rows differ") from None
    if array.dtype.kind in "USO":
        raise InvalidInputError(
            f"{name} must be vectors of numbers, got {'strings' if array.dtype.kind in 'US' else 'objects'}; "
            "embed texts first (embed_queries, embed_documents)"
        )
    if array.dtype in (np.int8, np.uint8):  # what precision= gives: steps or packed bits, which have no cosine
        raise InvalidInputError(
            f"{name} holds {array.dtype} values, as quantized vectors (precision=...) do; compare the float32 vectors"
        )
    if array.dtype.kind not in "biuf":
        raise InvalidInputError(f"{name} must be real-valued vectors, got dtype {array.dtype}")
    shape = array.shape
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2 or array.shape[1] == 0:
        raise InvalidArgumentError(
            f"{name} must be one vector (dim,) or vectors (vectors, dim) with dim >= 1, got shape {shape}"
        )
    rows = array.astype(np.float32)
    finite = np.isfinite(rows).all(axis=1)
    if not finite.all():
        raise InvalidArgumentError(f"{name}[{int(np.argmin(finite))}] holds NaN or infinite values (in float32)")
    # Scaled by the largest magnitude first, so that squares neither overflow nor vanish in float32.
    scale = np.abs(rows).max(axis=1, keepdims=True)
    if not scale.all():
        raise InvalidArgumentError(f"{name}[{int(np.argmin(scale))}] is all zeros: it has no direction to compare")
    rows /= scale
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    return rows
