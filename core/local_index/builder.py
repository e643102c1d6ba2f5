"""Bringing an index up to date with folders: new and changed files embedded, deleted ones removed."""

from __future__ import annotations

import errno
import os
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from ..display import plural
from ..errors import InvalidArgumentError
from ..model_methods import EmbeddingMethods
from ..progress import bar
from ..tokenization import plain_text_tokenizer
from ..vector_settings import VectorSettings
from .chunking import Chunk, check_chunking, chunk_section
from .layouts import layout_named
from .places import file_key, index_base, key_under, root_keys
from .search import VECTOR_INDEX_FROM
from .store import FileRecord, FileUpdate, IndexStore
from .walk import MALFORMED_RECORD, MAX_FILE_BYTES, RECORD_WITHOUT_TEXT, Walk, is_indexable, read_file, status_inside

if TYPE_CHECKING:
    from tqdm.auto import tqdm

DEFAULT_CHUNKING = {"chunk_tokens": 512, "overlap": 64, "text_field": "text"}
EMBED_EVERY_CHUNKS = 256  # chunks embedded per call: enough for the core to batch by tokens
COMMIT_EVERY_SECONDS = 2.0  # embedded work is committed this often: a crash costs at most this, plus one batch
BYTES_PER_TOKEN = 4.0  # the progress bar's guess for text until the files read tell it better


@dataclass
class IndexReport:
    """What one indexing run did, for the summary line."""

    indexed: int = 0  # new or changed files written
    unchanged: int = 0
    removed: int = 0
    chunks: int = 0  # chunks written by this run
    reused: int = 0  # of `chunks`, those whose text the index held already: copied, not embedded
    skipped: Counter[str] = field(default_factory=Counter)  # reason -> files, folders or JSONL records
    other_files: int = 0  # files whose type is not indexed
    seconds: float = 0.0
    tokens: int = 0  # tokens of the chunks embedded by this run
    embedding_seconds: float = 0.0  # of `seconds`, the time the embedder took

    @property
    def tokens_per_second(self) -> float | None:
        return self.tokens / self.embedding_seconds if self.embedding_seconds > 0 else None

    def summary(self, store: IndexStore) -> str:
        reused = f", {self.reused} reused" if self.reused else ""
        parts = [
            f"{plural(self.indexed, 'file')} indexed ({plural(self.chunks, 'chunk')}{reused})",
            f"{self.unchanged} unchanged",
            f"{self.removed} removed",
        ]
        parts += [f"{count} skipped ({reason})" for reason, count in sorted(self.skipped.items()) if count]
        if self.other_files:
            parts.append(f"{plural(self.other_files, 'file')} of other types ignored")
        return (
            ", ".join(parts) + f"; index holds {plural(store.file_count(), 'file')}, "
            f"{plural(store.chunk_count(), 'chunk')} ({self.seconds:.1f} s{self._rate()})"
        )

    def _rate(self) -> str:
        rate = self.tokens_per_second
        return "" if rate is None else f"; embedded {plural(self.tokens, 'token')} at {rate:.0f} tokens/s"


def index_settings(
    vectors: EmbeddingMethods | VectorSettings,
    chunk_tokens: int,
    overlap: int,
    text_field: str,
    precision: str = "float32",
) -> dict[str, Any]:
    """What the vectors depend on (an index refuses to be extended or searched with anything else), from any
    embedder, local or served. The embedding model is recorded as what it is (`VectorSettings`), never as
    where it lies; which models a later run uses is the user's choice (see own_models.py).

    `precision` "float16", "int8" or "binary" stores compact vectors (see layouts.py); a float32 index records no
    precision, as indexes did before there was a choice.
    """
    layout = layout_named(precision)
    described = vectors if isinstance(vectors, VectorSettings) else VectorSettings.of(vectors)
    return {
        **described.record(),
        "chunk_tokens": chunk_tokens,
        "overlap": overlap,
        "text_field": text_field,
        **layout.settings(),
    }


def resolve_roots(roots: Sequence[Path]) -> list[Path]:
    """Each folder to index as an absolute path with links resolved (the user named it; we may follow it)."""
    resolved = []
    for root in roots:
        if not root.is_dir():
            raise InvalidArgumentError(f"DIR {str(root)!r} is not a folder")
        real = Path(os.path.realpath(root))
        try:
            str(real).encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidArgumentError(f"DIR {str(root)!r}: its path is not valid UTF-8; rename it") from None
        resolved.append(real)
    return resolved


def update_index(
    store: IndexStore,
    roots: Sequence[Path],
    embedder: EmbeddingMethods,
    *,
    chunk_tokens: int,
    overlap: int,
    text_field: str = "text",
    progress: bool = True,
    follow_symlinks: bool = False,
    max_file_bytes: int = MAX_FILE_BYTES,
    vector_index_from: int = VECTOR_INDEX_FROM,
) -> IndexReport:
    """Make the index match the indexable files under `roots` now.

    Files are recorded by their path from the folder holding the index (`places.py`). Files whose size
    and modification time are unchanged are not read again; a chunk whose text the index already holds
    (a moved, renamed, copied or partly edited file) is copied, not embedded. Embedded work is committed
    every `COMMIT_EVERY_SECONDS`, so an interrupted run keeps what it finished and a re-run picks up the rest;
    files no longer found under `roots` are removed last, so their chunks can serve files moved elsewhere.
    """
    check_chunking(chunk_tokens, overlap)
    started, report = time.perf_counter(), IndexReport()
    roots = resolve_roots(roots)
    base = index_base(store.home)
    known = store.files()
    walk = Walk(roots, follow_symlinks, excluded=frozenset({os.path.realpath(store.home)}))
    seen, to_read = _changed_files(walk, known, base, report)
    tokenizer = plain_text_tokenizer(embedder.tokenizer)
    with bar(progress, "Indexing", "token", unit_scale=True) as shown:
        tracker = _Progress(shown, sum(record.size for _, record in to_read))
        writer = _Writer(store, embedder, known, report, tracker)
        touched: list[FileRecord] = []
        for path, record in to_read:
            content = read_file(path, text_field, follow_symlinks, max_file_bytes, roots)
            record = FileRecord(record.path, content.sha256, record.size, record.mtime_ns)
            old = known.get(record.path)
            if content.skipped:
                tracker.read(record.size, None)
                report.skipped[content.skipped] += 1
                if old is not None:  # it was text before: its old chunks no longer describe it
                    seen.discard(record.path)
                continue
            report.skipped[RECORD_WITHOUT_TEXT] += content.records_without_text
            report.skipped[MALFORMED_RECORD] += content.records_malformed
            if old is not None and old.sha256 == record.sha256:
                tracker.read(record.size, None)
                touched.append(record)
                report.unchanged += 1
                continue
            chunks = [c for s in content.sections for c in chunk_section(s, tokenizer, chunk_tokens, overlap)]
            tracker.read(record.size, sum(chunk.tokens for chunk in chunks))
            writer.add(record, chunks)
        writer.flush()
        writer.commit()
    store.record(touched)
    gone = _gone(known, seen, root_keys(roots, base), base)
    store.remove(gone)
    report.removed = len(gone)
    store.optimize(vector_index_from)
    report.seconds = time.perf_counter() - started
    return report


def _changed_files(
    walk: Walk, known: dict[str, FileRecord], base: str, report: IndexReport
) -> tuple[set[str], list[tuple[Path, FileRecord]]]:
    """The records of every indexable file the walk finds, and the files to read: those whose size or
    modification time differs from their record (the rest are counted unchanged)."""
    seen: set[str] = set()
    to_read: list[tuple[Path, FileRecord]] = []
    for path, info in walk.entries():  # each status read through its folder's descriptor, not by path
        if not is_indexable(path):
            report.other_files += 1
            continue
        record = FileRecord(file_key(path, base), "", info.st_size, info.st_mtime_ns)
        seen.add(record.path)
        old = known.get(record.path)
        if old is not None and (old.size, old.mtime_ns) == (record.size, record.mtime_ns):
            report.unchanged += 1
        else:
            to_read.append((path, record))
    report.skipped.update(walk.skipped)
    return seen, to_read


def _gone(known: dict[str, FileRecord], seen: set[str], roots: list[str], base: str) -> list[str]:
    """Files under `roots` (their records) that the walk no longer reaches: deleted, moved, hidden, or now
    behind a link; and files recorded elsewhere whose path is gone (a folder renamed, a file moved out:
    their chunks served this run's files first). Entries written by id (`add_documents`) stay."""
    found = []
    for path, old in known.items():
        if path in seen or old.document:
            continue
        if any(key_under(path, root) for root in roots) or moved_away(base, path):
            found.append(path)
    return found


def moved_away(base: str, key: str) -> bool:
    """Whether the file recorded as `key` (relative to `base`, links resolved) is no longer there. Only its
    status is read, one folder at a time from `/` without following links (`base` and its parents are real
    folders, so a link on the way is a change): nothing is opened for reading, and a file that is there but
    unreadable is still there."""
    if os.path.isabs(key) or os.path.normpath(key) != key:  # an absolute record is format 2's, never written now
        return False
    try:
        status_inside(Path(os.sep), os.path.normpath(os.path.join(base, key)).lstrip(os.sep))
    except OSError as error:
        return error.errno in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP)
    return False


class _Writer:
    """Gathers files' chunks, copies the vectors the index holds for their texts already, embeds the rest in
    batches, and commits the results every `COMMIT_EVERY_SECONDS`."""

    def __init__(
        self,
        store: IndexStore,
        embedder: EmbeddingMethods,
        known: dict[str, FileRecord],
        report: IndexReport,
        progress: _Progress,
    ):
        self.store, self.embedder, self.known, self.report = store, embedder, known, report
        self.progress = progress
        self.pending: list[tuple[FileRecord, list[Chunk]]] = []
        self.embedded: list[FileUpdate] = []
        self.committed_at = time.monotonic()

    def add(self, record: FileRecord, chunks: list[Chunk]) -> None:
        self.pending.append((record, chunks))
        if sum(len(c) for _, c in self.pending) >= EMBED_EVERY_CHUNKS:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        chunks = [chunk for _, file_chunks in self.pending for chunk in file_chunks]
        found, rows = self.store.reusable([chunk.text for chunk in chunks])
        missing = [chunk for chunk, row in zip(chunks, rows, strict=True) if row is None]
        self.report.reused += len(chunks) - len(missing)
        self.progress.reused(sum(chunk.tokens for chunk, row in zip(chunks, rows, strict=True) if row is not None))
        stored = pa.concat_tables([found, self._embed(missing)]) if missing else found
        # Every chunk's vector row: found ones where they were found, new ones after them, in chunk order.
        new_rows = iter(range(found.num_rows, found.num_rows + len(missing)))
        order = [row if row is not None else next(new_rows) for row in rows]
        start = 0
        for record, file_chunks in self.pending:
            taken = stored.take(pa.array(order[start : start + len(file_chunks)], pa.int64()))
            self.embedded.append(FileUpdate(record, file_chunks, taken))
            start += len(file_chunks)
        self.pending.clear()
        if time.monotonic() - self.committed_at >= COMMIT_EVERY_SECONDS:
            self.commit()

    def _embed(self, chunks: list[Chunk]) -> pa.Table:
        started = time.perf_counter()
        vectors = self.embedder.embed_documents([chunk.text for chunk in chunks])
        self.report.embedding_seconds += time.perf_counter() - started
        tokens = sum(chunk.tokens for chunk in chunks)
        self.report.tokens += tokens
        self.progress.embedded(tokens)
        return self.store.encode(vectors)

    def commit(self) -> None:
        if self.embedded:
            self.store.write(self.embedded, known=self.known)
            self.report.indexed += len(self.embedded)
            self.report.chunks += sum(len(update.chunks) for update in self.embedded)
            self.embedded = []
        self.committed_at = time.monotonic()


class _Progress:
    """The indexing bar, counted in tokens embedded: the embedder's time grows with tokens, while a file may
    hold one chunk or thousands and a chunk 5 tokens or 512 (counted in files, the rate and the time left
    swung 40-fold on one run). Copied chunks and unchanged files cost no embedding, so they count for nothing.

    Its total is the tokens embedded and still to embed: those of the chunks read, and for files not read
    yet an estimate from their size at the tokens per byte of the files read so far (`BYTES_PER_TOKEN` before
    the first), exact once every file is read."""

    def __init__(self, shown: tqdm, unread_bytes: int):
        self.shown, self.unread_bytes = shown, unread_bytes
        self.done = self.waiting = 0  # tokens embedded; tokens read, yet to be embedded (or found in the index)
        self.read_tokens = self.read_bytes = 0  # of the files chunked: what tells tokens per byte

    def read(self, size: int, tokens: int | None) -> None:
        """A file of `size` bytes (as the walk saw it) was read: its chunks hold `tokens`; None: nothing to embed."""
        self.unread_bytes = max(0, self.unread_bytes - size)
        if tokens is not None:
            self.read_tokens += tokens
            self.read_bytes += size
            self.waiting += tokens
        self._estimate()

    def reused(self, tokens: int) -> None:
        """Chunks read whose vectors the index holds already: nothing to embed."""
        self.waiting -= tokens
        self._estimate()

    def embedded(self, tokens: int) -> None:
        self.waiting -= tokens
        self.done += tokens
        self._estimate()
        self.shown.update(tokens)

    def _estimate(self) -> None:
        per_byte = self.read_tokens / self.read_bytes if self.read_bytes else 1 / BYTES_PER_TOKEN
        self.shown.total = self.done + self.waiting + round(self.unread_bytes * per_byte)
