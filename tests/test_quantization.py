"""Quantized embeddings equal a plain reference of sentence-transformers' `quantize_embeddings`, exactly,
through the embedder's calls too (applied after the Matryoshka cut)."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from conftest import VARIED_TEXTS

from qwen3_rag import InvalidArgumentError, InvalidInputError, calibration_ranges, quantize_embeddings


def reference(embeddings, precision, ranges=None, calibration_embeddings=None):
    """sentence-transformers' quantize_embeddings, written out plainly (its int8/uint8 and bit packing)."""
    if precision == "float32":
        return embeddings
    if precision in ("int8", "uint8"):
        if ranges is None:
            source = embeddings if calibration_embeddings is None else calibration_embeddings
            ranges = np.vstack((np.min(source, axis=0), np.max(source, axis=0)))
        starts = ranges[0, :]
        steps = (ranges[1, :] - ranges[0, :]) / 255
        if precision == "uint8":
            return ((embeddings - starts) / steps).astype(np.uint8)
        return ((embeddings - starts) / steps - 128).astype(np.int8)
    packed = np.packbits(embeddings > 0).reshape(embeddings.shape[0], -1)
    return packed if precision == "ubinary" else (packed - 128).astype(np.int8)


def unit_vectors(count: int, dim: int, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((count, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.mark.parametrize("precision", ["float32", "int8", "uint8", "binary", "ubinary"])
@pytest.mark.parametrize("dim", [32, 64, 1024])
def test_quantized_vectors_equal_the_reference_exactly(precision, dim):
    vectors = unit_vectors(50, dim)
    calibration = np.vstack([vectors, unit_vectors(200, dim, seed=1)])  # covers the vectors: nothing to clip
    for options in ({}, {"calibration_embeddings": calibration}, {"ranges": calibration_ranges(calibration)}):
        ours = quantize_embeddings(vectors, precision, **options)
        expected = reference(vectors, precision, **options)
        assert ours.dtype == expected.dtype and ours.shape == expected.shape
        np.testing.assert_array_equal(ours, expected)


def test_values_outside_the_calibration_range_are_clipped_not_wrapped():
    vectors = unit_vectors(20, 32)
    ranges = np.vstack([np.full(32, -0.05, np.float32), np.full(32, 0.05, np.float32)])
    ours = quantize_embeddings(vectors, "int8", ranges=ranges)
    np.testing.assert_array_equal(ours[vectors >= 0.05], 127)
    np.testing.assert_array_equal(ours[vectors <= -0.05], -128)
    assert (quantize_embeddings(vectors, "uint8", ranges=ranges)[vectors <= -0.05] == 0).all()


def test_a_dim_that_is_not_a_multiple_of_eight_packs_each_row_on_its_own():
    vectors = unit_vectors(5, 100)
    packed = quantize_embeddings(vectors, "ubinary")
    assert packed.shape == (5, 13)
    for row, bits in zip(vectors, packed, strict=True):
        np.testing.assert_array_equal(np.unpackbits(bits)[:100], (row > 0).astype(np.uint8))
        assert not np.unpackbits(bits)[100:].any()


def test_the_embedders_precision_is_applied_after_the_matryoshka_cut(tiny_models):
    from qwen3_rag import Embedder

    embedder = Embedder(tiny_models.embedding, device="cpu", dim=48)
    floats = embedder.embed_documents(VARIED_TEXTS)
    queries = embedder.embed_queries(VARIED_TEXTS[:3])
    for precision in ("int8", "uint8", "binary", "ubinary"):
        np.testing.assert_array_equal(
            embedder.embed_documents(VARIED_TEXTS, precision=precision), reference(floats, precision)
        )
        ranges = calibration_ranges(floats)
        np.testing.assert_array_equal(
            embedder.embed_queries(VARIED_TEXTS[:3], precision=precision, ranges=ranges),
            quantize_embeddings(queries, precision, ranges=ranges),
        )
        got = asyncio.run(embedder.aembed_documents(VARIED_TEXTS, precision=precision))
        np.testing.assert_array_equal(got, reference(floats, precision))
    assert embedder.embed_documents(VARIED_TEXTS, precision="ubinary").shape == (len(VARIED_TEXTS), 6)
    np.testing.assert_array_equal(embedder.embed_documents(VARIED_TEXTS, precision="float32"), floats)


def test_bad_precisions_and_ranges_are_refused_by_name(embedder):
    with pytest.raises(InvalidArgumentError, match=r"precision='int4' is not a precision; use one of float32, int8"):
        embedder.embed_documents(["a"], precision="int4")
    with pytest.raises(InvalidInputError, match="dimension 0 has no range to quantize"):
        embedder.embed_documents(["only one text"], precision="int8")
    with pytest.raises(InvalidArgumentError, match=r"ranges must have shape \(2, 64\)"):
        embedder.embed_documents(["a", "b"], precision="int8", ranges=np.zeros((2, 3)))
    with pytest.raises(InvalidArgumentError, match="not both"):
        quantize_embeddings(
            unit_vectors(3, 8), "int8", ranges=np.zeros((2, 8)), calibration_embeddings=np.zeros((3, 8))
        )
