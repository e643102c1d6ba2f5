"""What users of sentence-transformers and fastembed expect (issue 35): a TypeError for an unknown keyword,
`similarity(a, b)`, one-text `embed_query`/`embed_document`, and `KNOWN_CHECKPOINTS` at the top level.

RemoteEmbedder runs against a loopback OpenAI-style server whose vectors come from the real tiny model (the
vLLM parity tests live in test_remote.py); nothing here is mocked.
"""

from __future__ import annotations

import asyncio
import pickle
import subprocess
import sys

import numpy as np
import pytest
from conftest import CORPUS, QUESTION, VARIED_TEXTS

from qwen3_rag import (
    Embedder,
    InvalidArgumentError,
    InvalidInputError,
    Qwen3RagError,
    RemoteEmbedder,
    RemoteReranker,
    Reranker,
    UnknownArgumentError,
    calibration_ranges,
)
from qwen3_rag.settings import EmbedderSettings, RerankerSettings

UNUSED_URL = "http://127.0.0.1:9"  # never contacted: an unknown keyword is refused before any connection

# ----- an unknown keyword is a TypeError -----

UNKNOWN_KEYWORD_CALLS = {
    "Embedder": lambda m: Embedder(m.embedding, precision="binary"),
    "Reranker": lambda m: Reranker(m.reranker, precision="binary"),
    "RemoteEmbedder": lambda m: RemoteEmbedder(UNUSED_URL, precision="binary"),
    "RemoteReranker": lambda m: RemoteReranker(UNUSED_URL, precision="binary"),
    "EmbedderSettings": lambda m: EmbedderSettings(model=m.embedding, precision="binary"),
    "RerankerSettings": lambda m: RerankerSettings(precision="binary"),
    "EmbedderSettings.from_mapping": lambda m: EmbedderSettings.from_mapping({"precision": "binary"}),
    "RerankerSettings.from_mapping": lambda m: RerankerSettings.from_mapping({"precision": "binary"}),
}


@pytest.mark.parametrize("call", UNKNOWN_KEYWORD_CALLS.values(), ids=UNKNOWN_KEYWORD_CALLS.keys())
def test_an_unknown_keyword_is_a_type_error_that_lists_what_is_taken(call, tiny_models):
    with pytest.raises(TypeError, match=r"got unknown (argument|setting)\(s\) precision; it takes .*\bmax_length\b"):
        call(tiny_models)


def test_the_unknown_keyword_error_is_also_the_packages_and_a_value_error():
    """`except Qwen3RagError`, `except InvalidArgumentError` and `except ValueError` written before keep working."""
    assert issubclass(UnknownArgumentError, TypeError)
    for base in (InvalidArgumentError, Qwen3RagError, ValueError):
        assert issubclass(UnknownArgumentError, base)
    error = pickle.loads(pickle.dumps(UnknownArgumentError("Embedder got unknown argument(s) x; it takes y")))
    assert type(error) is UnknownArgumentError and str(error) == "Embedder got unknown argument(s) x; it takes y"


def test_the_haystack_and_ray_adapters_refuse_an_unknown_keyword_with_a_type_error():
    from qwen3_rag.integrations.haystack import Qwen3Ranker, Qwen3TextEmbedder
    from qwen3_rag.integrations.ray import Qwen3EmbedBatch

    with pytest.raises(TypeError, match=r"Qwen3TextEmbedder got unknown argument\(s\) dimension"):
        Qwen3TextEmbedder(dimension=32)
    with pytest.raises(TypeError, match=r"Qwen3Ranker got unknown argument\(s\) dim"):
        Qwen3Ranker(dim=32)
    with pytest.raises(TypeError, match=r"unknown setting\(s\) dimension; it takes .*\bdim\b"):
        Qwen3EmbedBatch(dimension=32)  # refused before any model loads


# ----- similarity(a, b) -----


def test_similarity_is_the_cosine_matrix_of_two_sets_of_vectors(embedder):
    queries, documents = embedder.embed_queries([QUESTION, "gravity"]), embedder.embed_documents(CORPUS)
    similarity = embedder.similarity(queries, documents)
    assert similarity.dtype == np.float32 and similarity.shape == (2, len(CORPUS))
    np.testing.assert_allclose(similarity, queries @ documents.T, rtol=0, atol=1e-6)
    one = embedder.similarity(queries[0], documents)  # one vector (dim,) is one row
    assert one.shape == (1, len(CORPUS))
    np.testing.assert_allclose(one[0], similarity[0], rtol=0, atol=1e-7)  # BLAS sums one row in another order
    assert embedder.similarity(documents[:0], queries).shape == (0, 2)


def test_similarity_compares_vectors_from_anywhere_of_one_size(embedder, tiny_models):
    """Another instance's vectors, plain lists, vectors that are not unit length: rows are normalised."""
    other = Embedder(tiny_models.embedding, device="cpu", dim=32)
    short = other.embed_documents(CORPUS[:3])
    np.testing.assert_allclose(embedder.similarity(short, short), short @ short.T, rtol=0, atol=1e-6)
    np.testing.assert_allclose(embedder.similarity([[3, 4]], [[4, 3], [0, -2]]), [[0.96, -0.8]], rtol=1e-6)
    huge, tiny = np.full((1, 8), 1e30), np.full((1, 8), 1e-30)  # their squares leave float32's range
    np.testing.assert_allclose(embedder.similarity(huge, tiny), [[1.0]], rtol=1e-6)


def test_similarity_stays_within_minus_one_and_one():
    """Unit vectors in float32 give dot products a few ulps past 1 (the premise below); cosines are clipped."""
    vectors = np.random.default_rng(0).standard_normal((200, 64)).astype(np.float32)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    assert (unit @ unit.T).max() > 1  # what the clipping is for
    from qwen3_rag.model_methods import cosine_similarity

    similarity = cosine_similarity(vectors, vectors)
    assert similarity.max() <= 1 and similarity.min() >= -1
    np.testing.assert_allclose(np.diag(similarity), 1, rtol=0, atol=1e-6)


@pytest.mark.parametrize(
    ("a", "b", "error", "message"),
    [
        (np.ones((2, 64)), np.ones((3, 32)), InvalidArgumentError, r"a and b must have the same dim, got 64 and 32"),
        (np.ones((2, 8)), [[1.0] * 8, [np.nan] * 8], InvalidArgumentError, r"b\[1\] holds NaN or infinite"),
        ([[np.inf, 1.0]], [[1.0, 1.0]], InvalidArgumentError, r"a\[0\] holds NaN or infinite"),
        (np.ones((2, 8)), np.zeros((1, 8)), InvalidArgumentError, r"b\[0\] is all zeros"),
        (np.ones((2, 2, 8)), np.ones((1, 8)), InvalidArgumentError, r"a must be one vector \(dim,\) or vectors"),
        ([], np.ones((1, 8)), InvalidArgumentError, r"a must be .* with dim >= 1, got shape \(0,\)"),
        ([[1.0, 2.0], [3.0]], np.ones((1, 2)), InvalidArgumentError, "a must be vectors of one size"),
        (["a text"], ["another"], InvalidInputError, "a must be vectors of numbers, got strings; embed texts first"),
        (np.ones((1, 8), np.int8), np.ones((1, 8)), InvalidInputError, "a holds int8 values, as quantized vectors"),
    ],
)
def test_similarity_refuses_what_has_no_cosine_naming_the_argument(embedder, a, b, error, message):
    with pytest.raises(error, match=message):
        embedder.similarity(a, b)


# ----- embed_query / embed_document -----


def test_one_text_gives_the_row_the_batch_method_gives(embedder):
    text = VARIED_TEXTS[1]
    query, document = embedder.embed_query(text), embedder.embed_document(text)
    assert query.shape == document.shape == (embedder.dim,) and query.dtype == document.dtype == np.float32
    np.testing.assert_array_equal(query, embedder.embed_queries([text])[0])
    np.testing.assert_array_equal(document, embedder.embed_documents([text])[0])
    assert not np.array_equal(query, document)  # the instruction is on the query only
    np.testing.assert_array_equal(
        embedder.embed_query(text, "code_search"), embedder.embed_queries([text], "code_search")[0]
    )


def test_one_text_takes_the_batch_methods_precision(embedder):
    text, ranges = CORPUS[0], calibration_ranges(embedder.embed_documents(CORPUS))
    for precision in ("binary", "ubinary"):
        expected = embedder.embed_documents([text], precision=precision)[0]
        np.testing.assert_array_equal(embedder.embed_document(text, precision=precision), expected)
        assert embedder.embed_document(text, precision=precision).dtype == expected.dtype
    quantized = embedder.embed_query(text, precision="int8", ranges=ranges)
    np.testing.assert_array_equal(quantized, embedder.embed_queries([text], precision="int8", ranges=ranges)[0])
    with pytest.raises(InvalidArgumentError, match=r"precision='uint8' for one text needs ranges= \(shape"):
        embedder.embed_document(text, precision="uint8")
    with pytest.raises(InvalidArgumentError, match="precision='float16' is not a precision"):
        embedder.embed_query(text, precision="float16")


@pytest.mark.parametrize(
    ("method", "batch"),
    [("embed_query", "embed_queries"), ("embed_document", "embed_documents")],
)
@pytest.mark.parametrize("given", [["one text"], None, b"bytes"])
def test_one_text_methods_refuse_anything_but_a_string_and_point_to_the_batch_method(embedder, method, batch, given):
    with pytest.raises(InvalidInputError, match=rf"text must be one string, got \w+; for several texts call {batch}"):
        getattr(embedder, method)(given)
    with pytest.raises(InvalidInputError, match=rf"for several texts call a{batch}\(texts\)"):
        asyncio.run(getattr(embedder, f"a{method}")(given))


def test_the_async_twins_give_the_same_vectors(embedder):
    text = VARIED_TEXTS[2]
    np.testing.assert_array_equal(asyncio.run(embedder.aembed_query(text)), embedder.embed_query(text))
    np.testing.assert_array_equal(
        asyncio.run(embedder.aembed_document(text, precision="binary")),
        embedder.embed_document(text, precision="binary"),
    )


def test_a_cut_text_is_reported_at_the_callers_line(tiny_models):
    short = Embedder(tiny_models.embedding, device="cpu", max_length=4)
    with pytest.warns(UserWarning, match="were cut on the right") as caught:
        short.embed_query("a text of many more than four tokens")
    assert caught[0].filename == __file__


# ----- KNOWN_CHECKPOINTS -----


def test_known_checkpoints_are_exported_without_importing_torch_or_numpy():
    code = (
        "import sys\n"
        "from qwen3_rag import KNOWN_CHECKPOINTS\n"
        "import qwen3_rag, qwen3_rag.registry\n"
        "assert 'KNOWN_CHECKPOINTS' in qwen3_rag.__all__\n"
        "assert KNOWN_CHECKPOINTS is qwen3_rag.registry.KNOWN_CHECKPOINTS\n"
        "print(KNOWN_CHECKPOINTS['Qwen/Qwen3-Embedding-8B'].hidden_size, 'torch' in sys.modules, "
        "'numpy' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["4096", "False", "False"]
