"""An optional progress bar, counted in texts, for work that finishes in batches (in any order)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from tqdm.auto import tqdm


@contextmanager
def counter(total: int, enabled: bool, description: str) -> Iterator[Callable[[int], None]]:
    """A function that advances a bar by n texts (nothing when not `enabled`), for work finishing out of order."""
    if not enabled:
        yield lambda count: None
        return
    with tqdm(total=total, desc=description, unit="text") as bar:
        yield bar.update
