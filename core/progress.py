"""An optional progress bar over batches, counted in texts."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

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
