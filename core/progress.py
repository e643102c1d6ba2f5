"""An optional progress bar over batches, counted in texts."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from tqdm.auto import tqdm


def track(batches: Sequence[list[int]], enabled: bool, description: str) -> Iterator[list[int]]:
    """Yield `batches` unchanged, advancing a bar by each batch's size when `enabled`."""
    if not enabled:
        yield from batches
        return
    with tqdm(total=sum(len(b) for b in batches), desc=description, unit="text") as bar:
        for batch in batches:
            yield batch
            bar.update(len(batch))


@contextmanager
def counter(total: int, enabled: bool, description: str) -> Iterator[Callable[[int], None]]:
    """A function that advances a bar by n texts (nothing when not `enabled`), for work finishing out of order."""
    if not enabled:
        yield lambda count: None
        return
    with tqdm(total=total, desc=description, unit="text") as bar:
        yield bar.update
