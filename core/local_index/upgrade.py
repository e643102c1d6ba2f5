"""An index of format 2 (absolute paths, no text hashes) rewritten as format 3, embedding nothing.

Format 2 recorded every file by its absolute path and could not find a chunk again by its text, so
without this the first run of a newer qwen3-rag would re-embed the whole corpus: hours on a CPU.
The upgrade is a `--rebuild` that copies every chunk with its stored vector instead of embedding it:
built aside and swapped in whole, so searches meanwhile answer from the old index. Recorded paths are
strings from disk: they are only made relative (`places.py`), never opened.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from pathlib import Path
from typing import Any

from .chunking import Chunk
from .places import file_key, index_base
from .store import FileRecord, FileUpdate, IndexStore

FILES_A_STEP = 1000  # files whose chunks are read and written at a time
DROPPED = frozenset({"format_version", "reranker_model", "reranker_revision"})  # format 2's model locations


def upgrade_format_2(directory: Path, embedding_model: str) -> int:
    """Rewrite the format-2 index at `directory` as format 3; `embedding_model` is the identity of the model
    the user named for it (checked against the location format 2 recorded). Returns the chunks kept."""
    base = index_base(directory)
    files = IndexStore.file_rows(directory)
    kept = 0
    with IndexStore.open(directory) as old:
        settings = {k: v for k, v in old.settings.items() if k not in DROPPED} | {"embedding_model": embedding_model}
        columns = ["text", "metadata", *old.vector_schema.names]
        with IndexStore.create_or_open(directory, settings, rebuild=True) as new:
            for start in range(0, len(files), FILES_A_STEP):
                step = files[start : start + FILES_A_STEP]
                rows = old.rows_of([row["path"] for row in step], columns)
                new.write(_updates(step, rows, base))
                kept += rows.num_rows
    return kept


def _updates(files: list[dict[str, Any]], rows: Any, base: str) -> list[FileUpdate]:
    """One update per file: its record under its new key, its chunks in order, their stored vectors."""
    places = [json.loads(text) for text in rows.column("metadata").to_pylist()]
    texts = rows.column("text").to_pylist()
    by_path: dict[str, list[int]] = defaultdict(list)
    for row, place in enumerate(places):
        by_path[place["path"]].append(row)
    updates = []
    for file in files:
        path = file["path"]
        order = sorted(by_path.get(path, []), key=lambda row: places[row]["chunk"])
        document = not os.path.isabs(path)  # format 2 recorded files by absolute path, anything else by id
        record = FileRecord(
            path if document else file_key(path, base), file["sha256"], file["size"], file["mtime_ns"], document
        )
        chunks = [Chunk(texts[r], places[r]["start_line"], places[r]["end_line"]) for r in order]
        updates.append(FileUpdate(record, chunks, rows.take(order).drop_columns(["text", "metadata"])))
    return updates
