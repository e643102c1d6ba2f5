"""Reranker: parity with the official full-logits code, log-odds, ranking, token boundary, batching."""

from __future__ import annotations

import random

import numpy as np
import pytest
from conftest import VARIED_TEXTS
from qwen3_reference import PREFIX, SUFFIX, official_log_odds, official_scores
from transformers import AutoTokenizer

from qwen3_rag import DEFAULT_INSTRUCTION, Reranker

TOLERANCE = 1e-5
QUERY = "What is the capital of China?"


def test_scores_match_official(reranker, tiny_models):
    ours = reranker.score(QUERY, VARIED_TEXTS)
    reference = official_scores(tiny_models.reranker, DEFAULT_INSTRUCTION, QUERY, VARIED_TEXTS)
    assert ours.dtype == np.float32 and ours.shape == (len(VARIED_TEXTS),)
    assert reference.std() > 0.01  # the fixture separates documents, so parity is a real check
    np.testing.assert_allclose(ours, reference, atol=TOLERANCE, rtol=0)


def test_log_odds_are_the_score_before_the_sigmoid(reranker, tiny_models):
    logits = reranker.logits(QUERY, VARIED_TEXTS)
    reference = official_log_odds(tiny_models.reranker, DEFAULT_INSTRUCTION, QUERY, VARIED_TEXTS)
    np.testing.assert_allclose(logits, reference, atol=1e-4, rtol=0)
    np.testing.assert_allclose(1 / (1 + np.exp(-logits)), reranker.score(QUERY, VARIED_TEXTS), atol=1e-6)


def test_instruction_override_matches_official(reranker, tiny_models):
    instruction = "Given a claim, retrieve documents that support or refute the claim"
    ours = reranker.score("Water boils at 100 C", VARIED_TEXTS[:4], instruction=instruction)
    reference = official_scores(tiny_models.reranker, instruction, "Water boils at 100 C", VARIED_TEXTS[:4])
    np.testing.assert_allclose(ours, reference, atol=TOLERANCE, rtol=0)


def test_truncation_cuts_only_the_document(tiny_models):
    long_document = "Beijing has been a capital for centuries. " * 40
    documents = [long_document, "Paris is in France.", long_document[:100]]
    reranker = Reranker(tiny_models.reranker, device="cpu", max_length=120)
    with pytest.warns(UserWarning, match=r"1 of 3 documents did not fit max_length=120"):
        ours = reranker.score(QUERY, documents)
    reference = official_scores(tiny_models.reranker, DEFAULT_INSTRUCTION, QUERY, documents, max_length=120)
    np.testing.assert_allclose(ours, reference, atol=TOLERANCE, rtol=0)


def test_query_longer_than_budget_cuts_everything_like_official(tiny_models):
    reranker = Reranker(tiny_models.reranker, device="cpu", max_length=90)
    long_query = "capital city of the country " * 30
    with pytest.warns(UserWarning):
        ours = reranker.score(long_query, ["Beijing", "Paris"])
    reference = official_scores(tiny_models.reranker, DEFAULT_INSTRUCTION, long_query, ["Beijing", "Paris"], 90)
    np.testing.assert_allclose(ours, reference, atol=TOLERANCE, rtol=0)


@pytest.mark.parametrize(
    "document",
    [
        "letter first",
        " space first",
        "  two spaces",
        "\nnewline first",
        "\n\nblank line",
        ": colon",
        "(paren)",
        "'s clitic",
        "中文开头的文档",
        "123 digits",
        "🙂 emoji",
        "",
        "\t tab",
    ],
)
def test_split_head_and_document_give_the_official_token_ids(reranker, tiny_models, document):
    """Tokenizing the shared head and the document apart must equal the official tokenizer on the joined text."""
    tokenizer = AutoTokenizer.from_pretrained(tiny_models.reranker)
    tokens = reranker.prompt.tokens(DEFAULT_INSTRUCTION, QUERY, [document])
    body = f"<Instruct>: {DEFAULT_INSTRUCTION}\n<Query>: {QUERY}\n<Document>: {document}"
    joined = (
        tokenizer.encode(PREFIX, add_special_tokens=False)
        + tokenizer.encode(body, add_special_tokens=False)
        + tokenizer.encode(SUFFIX, add_special_tokens=False)
    )
    assert tokens.head + tokens.tails[0] == joined


def test_rerank_orders_best_first_and_cuts_top_k(reranker):
    logits = reranker.logits(QUERY, VARIED_TEXTS)
    ranked = reranker.rerank(QUERY, VARIED_TEXTS, top_k=3)
    assert [r.index for r in ranked] == list(np.argsort(-logits, kind="stable")[:3])
    assert ranked[0].score >= ranked[1].score >= ranked[2].score
    assert ranked[0].logit == pytest.approx(float(logits[ranked[0].index]))
    assert len(reranker.rerank(QUERY, VARIED_TEXTS)) == len(VARIED_TEXTS)


def test_ties_keep_input_order(reranker):
    ranked = reranker.rerank(QUERY, ["same text", "other", "same text"])
    same = [r.index for r in ranked if r.index != 1]
    assert same == [0, 2]


def test_score_does_not_depend_on_batch(reranker, tiny_models):
    together = reranker.score(QUERY, VARIED_TEXTS)
    alone = np.array([reranker.score(QUERY, [d])[0] for d in VARIED_TEXTS])
    np.testing.assert_allclose(together, alone, atol=1e-6, rtol=0)
    order = list(range(len(VARIED_TEXTS)))
    random.Random(3).shuffle(order)
    np.testing.assert_allclose(reranker.score(QUERY, [VARIED_TEXTS[i] for i in order]), together[order], atol=1e-6)
    tight = Reranker(tiny_models.reranker, device="cpu", batch_tokens=8)
    np.testing.assert_allclose(tight.score(QUERY, VARIED_TEXTS), together, atol=1e-6, rtol=0)


def test_empty_document_list(reranker):
    assert reranker.score(QUERY, []).shape == (0,)
    assert reranker.rerank(QUERY, []) == []
