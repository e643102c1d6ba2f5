"""Progress bars, with one rule for every bar the package draws: asked for, and on a screen.

Off a terminal (a log, a pipe) a bar's carriage returns and unfinished last line garble the lines
after it, so a bar is drawn only where stderr is a terminal or a notebook (`display.progress_shows`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from tqdm.auto import tqdm

from .display import progress_shows


def shows(wanted: bool) -> bool:
    """Whether a bar that is `wanted` is drawn: only where stderr can show it."""
    return wanted and progress_shows()


def bar(wanted: bool, description: str, unit: str, total: float | None = None, **options: Any) -> tqdm:
    """A tqdm bar on stderr, drawn only where `shows(wanted)`; otherwise one that counts silently."""
    return tqdm(total=total, desc=description, unit=unit, disable=not shows(wanted), **options)


@contextmanager
def counter(total: int, enabled: bool, description: str) -> Iterator[Callable[[int], None]]:
    """A function that advances a bar by n texts (nothing when not shown), for work finishing out of order."""
    if not shows(enabled):
        yield lambda count: None
        return
    with bar(True, description, "text", total) as shown:
        yield shown.update
