"""The batch planner: every index exactly once, budgets and counts respected, longest first."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qwen3_rag.batching import plan_batches


@given(lengths=st.lists(st.integers(0, 300), max_size=60), budget=st.integers(1, 2000),
       max_count=st.none() | st.integers(1, 8))
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
