"""Documents embedded elsewhere (a Ray cluster, say) written into a folder index, so that
`qwen3-rag search` finds them beside, or instead of, indexed files."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

import numpy as np
from numpy.typing import NDArray

from .chunking import Chunk
from .store import FileRecord, FileUpdate, IndexStore

DocumentBlock = tuple[Sequence[object], Sequence[str], NDArray[np.float32]]  # ids, texts, one vector per text


def add_documents(store: IndexStore, blocks: Iterable[DocumentBlock]) -> int:
    """Write each (id, text, vector) as a one-chunk entry named by its id; returns the documents written.

    One commit per block. An id seen again (in this call or an earlier one) replaces its entry,
    the last occurrence winning, so re-running an import does not duplicate anything.
    """
    known = set(store.files())
    written = 0
    for ids, texts, vectors in blocks:
        last = {str(key): position for position, key in enumerate(ids)}
        stored = store.encode(vectors)
        updates = [
            FileUpdate(
                FileRecord(key, hashlib.sha256(texts[p].encode("utf-8", "surrogatepass")).hexdigest(), 0, 0, True),
                [Chunk(texts[p], 1, texts[p].rstrip("\n").count("\n") + 1)],
                stored.slice(p, 1),
            )
            for key, p in last.items()
        ]
        store.write(updates, known=known)
        known.update(last)
        written += len(updates)
    return written
