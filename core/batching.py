"""Work planning: identical inputs computed once, then length-sorted batches cut by a token budget."""

from __future__ import annotations

from collections.abc import Sequence


def plan_batches(
    lengths: Sequence[int], token_budget: int, max_count: int | None = None, padded: bool = True
) -> list[list[int]]:
    """Group item indices into batches whose size fits `token_budget`.

    The size is count x longest for `padded` batches, and the sum of the lengths for packed ones.

    `max_count` additionally caps the number of items per batch (the frameworks' `batch_size`).

    Items are taken longest first, so a batch that does not fit in memory fails at the start,
    not after minutes of work. A single item longer than the budget forms a batch of its own.
    Callers put results back in input order with the returned indices.
    """
    order = sorted(range(len(lengths)), key=lambda i: lengths[i], reverse=True)
    batches: list[list[int]] = []
    current: list[int] = []
    size = 0
    for index in order:
        longest = lengths[current[0]] if current else lengths[index]
        grown = (len(current) + 1) * max(longest, 1) if padded else size + max(lengths[index], 1)
        full = max_count is not None and len(current) >= max_count
        if current and (full or grown > token_budget):
            batches.append(current)
            current, grown = [], max(lengths[index], 1)
        current.append(index)
        size = grown
    if current:
        batches.append(current)
    return batches


def distinct(rows: Sequence[Sequence[int]]) -> tuple[list[int], list[int]]:
    """The distinct rows: `first[j]` is the input index of the j-th, and row i equals row `first[owner[i]]`.

    Identical token sequences give identical outputs (no output depends on its batch), so each is
    computed once and copied to its repeats: boilerplate chunks, repeated candidates.
    """
    position: dict[tuple[int, ...], int] = {}
    first: list[int] = []
    owner: list[int] = []
    for index, row in enumerate(rows):
        key = tuple(row)
        if key not in position:
            position[key] = len(first)
            first.append(index)
        owner.append(position[key])
    return first, owner


def in_runs(count: int, size: int) -> list[range]:
    """Indices 0..count-1 in consecutive runs of at most `size` (a server's per-request limit)."""
    return [range(start, min(start + size, count)) for start in range(0, count, size)]
