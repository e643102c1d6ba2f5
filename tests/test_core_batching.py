"""The work planner: every index exactly once, budgets and counts respected, longest first, repeats once."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from qwen3_rag.batching import distinct, plan_batches


@given(
    lengths=st.lists(st.integers(0, 300), max_size=60),
    budget=st.integers(1, 2000),
    max_count=st.none() | st.integers(1, 8),
)
def test_plan_covers_every_index_once_within_limits(lengths, budget, max_count):
    batches = plan_batches(lengths, budget, max_count)
    assert sorted(i for batch in batches for i in batch) == list(range(len(lengths)))
    for batch in batches:
        assert max_count is None or len(batch) <= max_count
        longest = max(max(lengths[i] for i in batch), 1)
        assert len(batch) == 1 or len(batch) * longest <= budget


def test_longest_first_and_oversized_item_alone():
    assert plan_batches([5, 50, 10, 7], token_budget=25) == [[1], [2, 3], [0]]


@pytest.mark.parametrize("max_count, expected", [(None, [[0, 1, 2, 3]]), (2, [[0, 1], [2, 3]])])
def test_max_count_splits_batches_the_budget_allows(max_count, expected):
    assert plan_batches([4, 4, 4, 4], token_budget=100, max_count=max_count) == expected


@given(rows=st.lists(st.lists(st.integers(0, 3), max_size=3), max_size=30))
def test_distinct_keeps_first_occurrences_and_maps_every_row(rows):
    first, owner = distinct(rows)
    assert len({tuple(rows[i]) for i in first}) == len(first) == len({tuple(row) for row in rows})
    assert first == sorted(first)
    assert all(rows[first[owner[i]]] == row for i, row in enumerate(rows))


def count_tokens(model):
    """A forward hook on the token embedding that tallies the token ids every forward pass reads."""
    seen = [0]

    def hook(module, args, output):
        seen[0] += args[0].numel()

    return seen, model.backbone.embed_tokens.register_forward_hook(hook)


def test_repeated_texts_are_computed_once(embedder, reranker):
    texts = ["alpha beta", "gamma", "alpha beta", "delta epsilon zeta", "gamma", "alpha beta"]
    unique = ["alpha beta", "gamma", "delta epsilon zeta"]
    seen, handle = count_tokens(embedder.model)
    try:
        vectors = embedder.embed_documents(texts)
        repeated_tokens = seen[0]
        seen[0] = 0
        unique_vectors = embedder.embed_documents(unique)
    finally:
        handle.remove()
    assert repeated_tokens == seen[0]  # the repeats cost nothing
    np.testing.assert_array_equal(vectors, unique_vectors[[0, 1, 0, 2, 1, 0]])

    seen, handle = count_tokens(reranker.model)
    try:
        logits = reranker.logits("which letter?", texts)
        repeated_tokens = seen[0]
        seen[0] = 0
        unique_logits = reranker.logits("which letter?", unique)
    finally:
        handle.remove()
    assert repeated_tokens == seen[0]
    np.testing.assert_array_equal(logits, unique_logits[[0, 1, 0, 2, 1, 0]])
