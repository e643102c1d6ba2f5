"""Embedder: parity with the official algorithm, asymmetry, Matryoshka dims, batch independence."""

from __future__ import annotations

import random
import warnings

import numpy as np
import pytest
from conftest import VARIED_TEXTS
from qwen3_reference import official_embeddings, query_text

from qwen3_rag import DEFAULT_INSTRUCTION, PRESETS, Embedder

TOLERANCE = 1e-5


def test_documents_match_official(embedder, tiny_models):
    ours = embedder.embed_documents(VARIED_TEXTS)
    reference = official_embeddings(tiny_models.embedding, VARIED_TEXTS)
    assert ours.dtype == np.float32 and ours.shape == (len(VARIED_TEXTS), 64)
    np.testing.assert_allclose(ours, reference, atol=TOLERANCE, rtol=0)


def test_queries_match_official_with_instruction(embedder, tiny_models):
    ours = embedder.embed_queries(VARIED_TEXTS)
    reference = official_embeddings(tiny_models.embedding, [query_text(DEFAULT_INSTRUCTION, t) for t in VARIED_TEXTS])
    np.testing.assert_allclose(ours, reference, atol=TOLERANCE, rtol=0)
    assert np.abs(ours - embedder.embed_documents(VARIED_TEXTS)).max() > 1e-3  # the instruction matters


@pytest.mark.parametrize("dim", [32, 50, 64])
def test_matryoshka_dims_match_official(tiny_models, dim):
    ours = Embedder(tiny_models.embedding, device="cpu", dim=dim).embed_documents(VARIED_TEXTS)
    reference = official_embeddings(tiny_models.embedding, VARIED_TEXTS, dim=dim)
    assert ours.shape == (len(VARIED_TEXTS), dim)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(ours, reference, atol=TOLERANCE, rtol=0)


def test_truncation_keeps_end_of_text_and_matches_official(tiny_models):
    long_text = "The quick brown fox jumps over the lazy dog. " * 20
    texts = [long_text, "short one", long_text[:200]]
    embedder = Embedder(tiny_models.embedding, device="cpu", max_length=24)
    with pytest.warns(UserWarning, match=r"2 of 3 texts were longer than max_length=24"):
        ours = embedder.embed_documents(texts)
    np.testing.assert_allclose(
        ours, official_embeddings(tiny_models.embedding, texts, max_length=24), atol=TOLERANCE, rtol=0
    )


def test_tokenizer_without_end_of_text_gives_identical_vectors(tiny_models):
    """Old snapshots and hand-built tokenizers do not append <|endoftext|>; we append it ourselves."""
    plain = Embedder(tiny_models.embedding_plain_tokenizer, device="cpu", max_length=24)
    appending = Embedder(tiny_models.embedding, device="cpu", max_length=24)
    texts = [*VARIED_TEXTS, "word " * 100]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.testing.assert_array_equal(plain.embed_queries(texts), appending.embed_queries(texts))
        np.testing.assert_array_equal(plain.embed_documents(texts), appending.embed_documents(texts))


def test_vector_does_not_depend_on_batch(embedder):
    alone = np.stack([embedder.embed_documents([text])[0] for text in VARIED_TEXTS])
    together = embedder.embed_documents(VARIED_TEXTS)
    np.testing.assert_allclose(together, alone, atol=1e-6, rtol=0)
    order = list(range(len(VARIED_TEXTS)))
    random.Random(7).shuffle(order)
    shuffled = embedder.embed_documents([VARIED_TEXTS[i] for i in order])
    np.testing.assert_allclose(shuffled, together[order], atol=1e-6, rtol=0)


def test_small_token_budget_changes_batches_not_vectors(tiny_models, embedder):
    tight = Embedder(tiny_models.embedding, device="cpu", batch_tokens=16)
    np.testing.assert_allclose(
        tight.embed_documents(VARIED_TEXTS), embedder.embed_documents(VARIED_TEXTS), atol=1e-6, rtol=0
    )


def test_batch_size_caps_texts_per_pass_without_changing_vectors(tiny_models, embedder):
    capped = Embedder(tiny_models.embedding, device="cpu", batch_size=3)
    np.testing.assert_allclose(
        capped.embed_documents(VARIED_TEXTS), embedder.embed_documents(VARIED_TEXTS), atol=1e-6, rtol=0
    )


def test_instruction_override_changes_queries_only(embedder, tiny_models):
    other = "Given a question, retrieve passages that answer it"
    ours = embedder.embed_queries(["why is the sky blue"], instruction=other)
    reference = official_embeddings(tiny_models.embedding, [query_text(other, "why is the sky blue")])
    np.testing.assert_allclose(ours, reference, atol=TOLERANCE, rtol=0)
    custom = Embedder(tiny_models.embedding, device="cpu", instruction=other)
    np.testing.assert_array_equal(custom.embed_documents(VARIED_TEXTS), embedder.embed_documents(VARIED_TEXTS))
    np.testing.assert_allclose(custom.embed_queries(["why is the sky blue"]), ours, atol=1e-6, rtol=0)


def test_presets_resolve_to_their_instruction(tiny_models):
    qa = Embedder(tiny_models.embedding, device="cpu", instruction="question_answering")
    assert qa.instruction == PRESETS["question_answering"].instruction
    reference = official_embeddings(tiny_models.embedding, [query_text(qa.instruction, "who wrote Hamlet")])
    np.testing.assert_allclose(qa.embed_queries(["who wrote Hamlet"]), reference, atol=TOLERANCE, rtol=0)


def test_symmetric_tasks_instruct_documents_too(tiny_models):
    sts = Embedder(tiny_models.embedding, device="cpu", instruction="semantic_similarity")
    assert sts.symmetric
    texts = ["A man is playing a guitar.", "Someone plays an instrument."]
    expected = official_embeddings(tiny_models.embedding, [query_text(sts.instruction, t) for t in texts])
    np.testing.assert_allclose(sts.embed_documents(texts), expected, atol=TOLERANCE, rtol=0)
    np.testing.assert_allclose(sts.embed_queries(texts), expected, atol=TOLERANCE, rtol=0)
    forced_off = Embedder(tiny_models.embedding, device="cpu", instruction="semantic_similarity", symmetric=False)
    np.testing.assert_allclose(
        forced_off.embed_documents(texts), official_embeddings(tiny_models.embedding, texts), atol=TOLERANCE, rtol=0
    )


def test_empty_inputs(embedder):
    assert embedder.embed_documents([]).shape == (0, 64)
    assert embedder.embed_queries([]).dtype == np.float32
    empty = embedder.embed_documents([""])
    assert empty.shape == (1, 64)
    np.testing.assert_allclose(np.linalg.norm(empty), 1.0, atol=1e-6)
