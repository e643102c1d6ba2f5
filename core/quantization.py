"""Quantized embeddings, with the semantics sentence-transformers users know (`quantize_embeddings`).

Applied to the final unit vectors (after the Matryoshka cut), so `dim` and quantization compose:
- "float32": the vectors as they are.
- "int8" / "uint8": each dimension's range [min, max] is cut into 256 steps; a value becomes its step
  (uint8: 0..255; int8: the same minus 128). The ranges come from `ranges` (shape (2, dim): the
  minima, then the maxima), else from `calibration_embeddings`, else from the vectors being
  quantized. A value outside the range is clipped to its end (sentence-transformers lets it wrap
  around). Steps truncate toward zero, as a float-to-integer cast does.
- "binary" / "ubinary": one bit per dimension, 1 where the value is positive, packed eight to a
  byte, most significant bit first (`numpy.packbits`); "ubinary" keeps the bytes as uint8,
  "binary" shifts them to int8 (byte - 128). Each row is packed on its own: a `dim` that is not a
  multiple of 8 is padded with zero bits at the end of each row.
"""

from __future__ import annotations

from typing import Literal, get_args

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .errors import InvalidArgumentError, InvalidInputError

Precision = Literal["float32", "int8", "uint8", "binary", "ubinary"]
PRECISIONS: tuple[str, ...] = get_args(Precision)
Embeddings = NDArray[np.float32] | NDArray[np.int8] | NDArray[np.uint8]
OUTPUT_DTYPES = {"float32": np.float32, "int8": np.int8, "uint8": np.uint8, "binary": np.int8, "ubinary": np.uint8}


def check_precision(precision: object, name: str = "precision") -> Precision:
    if precision not in PRECISIONS:
        raise InvalidArgumentError(f"{name}={precision!r} is not a precision; use one of {', '.join(PRECISIONS)}")
    return precision  # type: ignore[return-value]  # checked against the Literal's values above


def output_width(precision: Precision, dim: int) -> int:
    """Numbers per quantized vector: `dim`, or bytes of packed bits for the binary precisions."""
    return (dim + 7) // 8 if precision in ("binary", "ubinary") else dim


def quantize_embeddings(
    embeddings: NDArray[np.float32],
    precision: Precision,
    ranges: ArrayLike | None = None,
    calibration_embeddings: ArrayLike | None = None,
) -> Embeddings:
    """`embeddings` (n, dim) in `precision` (see the module's docstring): float32 (n, dim), int8/uint8
    (n, dim), binary int8 / ubinary uint8 (n, ceil(dim / 8))."""
    precision = check_precision(precision)
    vectors = np.asarray(embeddings, dtype=np.float32)
    if vectors.ndim != 2:
        raise InvalidInputError(f"embeddings must be a 2-d array (texts, dim), got shape {vectors.shape}")
    if precision == "float32":
        return vectors
    if precision in ("binary", "ubinary"):
        packed = np.packbits(vectors > 0, axis=-1)
        return packed if precision == "ubinary" else (packed.astype(np.int16) - 128).astype(np.int8)
    starts, steps = _steps(vectors, ranges, calibration_embeddings)
    levels = (vectors - starts) / steps
    if precision == "int8":
        return np.clip(levels - 128, -128, 127).astype(np.int8)
    return np.clip(levels, 0, 255).astype(np.uint8)


def calibration_ranges(calibration_embeddings: ArrayLike) -> NDArray[np.float32]:
    """Per-dimension [minima, maxima] (shape (2, dim)) of a calibration set, for `ranges=`."""
    calibration = np.asarray(calibration_embeddings, dtype=np.float32)
    if calibration.ndim != 2 or len(calibration) == 0:
        raise InvalidInputError(f"calibration_embeddings must be a non-empty 2-d array, got shape {calibration.shape}")
    return np.vstack([calibration.min(axis=0), calibration.max(axis=0)])


def _steps(
    vectors: NDArray[np.float32], ranges: ArrayLike | None, calibration: ArrayLike | None
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    if ranges is not None and calibration is not None:
        raise InvalidArgumentError("pass ranges= or calibration_embeddings=, not both")
    if ranges is not None:
        bounds = np.asarray(ranges, dtype=np.float32)
    else:
        bounds = calibration_ranges(vectors if calibration is None else calibration)
    if bounds.shape != (2, vectors.shape[1]):
        raise InvalidArgumentError(
            f"ranges must have shape (2, {vectors.shape[1]}) (minima, then maxima per dimension), got {bounds.shape}"
        )
    steps = (bounds[1] - bounds[0]) / 255
    flat = np.flatnonzero(~(steps > 0))
    if flat.size:
        raise InvalidInputError(
            f"dimension {int(flat[0])} has no range to quantize (its minimum is not below its maximum); "
            "pass ranges= or calibration_embeddings= from a set of different texts"
        )
    return bounds[0], steps


def scaled_int8(vectors: NDArray[np.float32]) -> tuple[NDArray[np.int8], NDArray[np.float32]]:
    """Each row as int8 steps of its own largest magnitude / 127, and that step: the index's rescoring
    form (`vector ~ steps * step`). Needs no calibration set, so an index can be written in any order."""
    vectors = np.asarray(vectors, dtype=np.float32)
    step = np.abs(vectors).max(axis=1) / 127
    safe = np.where(step > 0, step, 1).astype(np.float32)
    return np.rint(vectors / safe[:, None]).astype(np.int8), step.astype(np.float32)
