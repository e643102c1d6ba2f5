"""Bringing an index up to date with folders: new and changed files embedded, deleted ones removed."""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from ..embedder import Embedder
from ..tokenization import plain_text_tokenizer
from .chunking import Chunk, check_chunking, chunk_section
from .files import is_indexable, read_file, walk
from .store import FileRecord, FileUpdate, VectorStore

WRITE_EVERY_CHUNKS = 256  # chunks embedded per durable write: what a crash can cost, at most


@dataclass
class IndexReport:
    """What one indexing run did, for the summary line."""

    indexed: int = 0  # new or changed files (re)embedded
    unchanged: int = 0
    removed: int = 0
    chunks: int = 0  # chunks embedded by this run
    skipped: Counter[str] = field(default_factory=Counter)  # "binary" / "unreadable" -> files
    records_without_text: int = 0
    other_files: int = 0  # files whose type is not indexed
    seconds: float = 0.0

    def summary(self, store: VectorStore) -> str:
        parts = [f"{self.indexed} files indexed ({self.chunks} chunks)", f"{self.unchanged} unchanged",
                 f"{self.removed} removed"]
        parts += [f"{count} {reason} skipped" for reason, count in sorted(self.skipped.items())]
        if self.records_without_text:
            parts.append(f"{self.records_without_text} JSONL records without text skipped")
        if self.other_files:
            parts.append(f"{self.other_files} files of other types ignored")
        return (", ".join(parts) + f"; index holds {store.file_count()} files, {store.chunk_count()} chunks"
                f" ({self.seconds:.1f} s)")


def index_settings(embedder: Embedder, chunk_tokens: int, overlap: int, text_field: str) -> dict[str, Any]:
    """What the vectors depend on: an index refuses to be extended or searched with anything else."""
    return {
        "embedding_model": embedder.model.key.source,
        "revision": embedder.model.key.revision,
        "dim": embedder.dim,
        "instruction": embedder.instruction,
        "symmetric": embedder.symmetric,
        "max_length": embedder.max_length,
        "chunk_tokens": chunk_tokens,
        "overlap": overlap,
        "text_field": text_field,
    }


def update_index(store: VectorStore, roots: Sequence[Path], embedder: Embedder, *, chunk_tokens: int,
                 overlap: int, text_field: str = "text", progress: bool = True) -> IndexReport:
    """Make the index match the indexable files under `roots` now.

    Files whose size and modification time are unchanged are not read again; files whose bytes
    are unchanged are not embedded again. Work is written every `WRITE_EVERY_CHUNKS` chunks, so an
    interrupted run keeps what it finished and a re-run picks up the rest.
    """
    check_chunking(chunk_tokens, overlap)
    started, report = time.perf_counter(), IndexReport()
    known = store.files()
    seen: set[str] = set()
    to_read: list[tuple[Path, FileRecord]] = []
    for root in roots:
        for path in walk(root):
            if not is_indexable(path):
                report.other_files += 1
                continue
            try:
                info = path.stat()
            except OSError:  # removed or made unreachable while we walked
                report.skipped["unreadable"] += 1
                continue
            record = FileRecord(str(path.resolve()), "", info.st_size, info.st_mtime_ns)
            seen.add(record.path)
            old = known.get(record.path)
            if old is not None and (old.size, old.mtime_ns) == (record.size, record.mtime_ns):
                report.unchanged += 1
            else:
                to_read.append((path, record))

    resolved_roots = [str(root.resolve()) for root in roots]  # once, not once per known file
    gone = [path for path in known if _under_any(path, resolved_roots) and path not in seen]
    store.remove(gone)
    report.removed = len(gone)

    tokenizer = plain_text_tokenizer(embedder.model.tokenizer)
    pending: list[tuple[FileRecord, list[Chunk]]] = []
    touched: list[FileRecord] = []
    with tqdm(total=len(to_read), desc="Indexing", unit="file", disable=not progress) as bar:
        for path, record in to_read:
            content = read_file(path, text_field)
            record = FileRecord(record.path, content.sha256, record.size, record.mtime_ns)
            old = known.get(record.path)
            bar.update(1)
            if content.skipped:
                report.skipped[content.skipped] += 1
                if old is not None:  # it was text before: its old chunks no longer describe it
                    store.remove([record.path])
                    report.removed += 1
                continue
            report.records_without_text += content.records_without_text
            if old is not None and old.sha256 == record.sha256:
                touched.append(record)
                report.unchanged += 1
                continue
            chunks = [c for s in content.sections for c in chunk_section(s, tokenizer, chunk_tokens, overlap)]
            pending.append((record, chunks))
            if sum(len(c) for _, c in pending) >= WRITE_EVERY_CHUNKS:
                _embed_and_write(store, embedder, pending, report)
        _embed_and_write(store, embedder, pending, report)
    store.touch(touched)
    if store.garbage_rows() > store.chunk_count():
        store.compact()
    report.seconds = time.perf_counter() - started
    return report


def _embed_and_write(store: VectorStore, embedder: Embedder, pending: list[tuple[FileRecord, list[Chunk]]],
                     report: IndexReport) -> None:
    if not pending:
        return
    texts = [chunk.text for _, chunks in pending for chunk in chunks]
    vectors = embedder.embed_documents(texts)
    updates, start = [], 0
    for record, chunks in pending:
        updates.append(FileUpdate(record, chunks, vectors[start:start + len(chunks)]))
        start += len(chunks)
    store.write(updates)
    report.indexed += len(pending)
    report.chunks += len(texts)
    pending.clear()


def _under_any(path: str, resolved_roots: Sequence[str]) -> bool:
    return any(os.path.commonpath([path, root]) == root for root in resolved_roots)
