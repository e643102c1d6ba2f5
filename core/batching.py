"""Length-sorted batches cut by a budget of padded tokens, so short texts never pad to long ones."""

from __future__ import annotations

from collections.abc import Sequence


def plan_batches(lengths: Sequence[int], token_budget: int, max_count: int | None = None) -> list[list[int]]:
    """Group item indices into batches whose padded size (count x longest) fits `token_budget`.

    `max_count` additionally caps the number of items per batch (the frameworks' `batch_size`).

    Items are taken longest first, so a batch that does not fit in memory fails at the start,
    not after minutes of work. A single item longer than the budget forms a batch of its own.
    Callers put results back in input order with the returned indices.
    """
    order = sorted(range(len(lengths)), key=lambda i: lengths[i], reverse=True)
    batches: list[list[int]] = []
    current: list[int] = []
    for index in order:
        longest = lengths[current[0]] if current else lengths[index]
        full = max_count is not None and len(current) >= max_count
        if current and (full or (len(current) + 1) * max(longest, 1) > token_budget):
            batches.append(current)
            current = []
        current.append(index)
    if current:
        batches.append(current)
    return batches
