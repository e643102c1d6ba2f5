"""The on-disk index: chunks, file hashes and settings in SQLite, vectors in a flat float32 file.

Crash safety comes from the order of writes. New vectors are appended to the vector file and
fsynced first; only then does one SQLite transaction point chunks at those rows. A crash before
the commit leaves unreferenced rows at the end of the file, which the next writer cuts off; a
crash after it leaves a complete state. Rows of replaced files become garbage that `compact()`
rewrites away under a new file name, switched to in one transaction.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import InvalidArgumentError, LocalIndexError
from .chunking import Chunk

FORMAT_VERSION = 1
DATABASE = "index.sqlite"
LOCK = "write.lock"
SCORE_BLOCK_ROWS = 32768  # rows scored per matrix product, so a search never holds two copies of the file

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE, sha256 TEXT NOT NULL,
    size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY, file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    row INTEGER NOT NULL, start_line INTEGER NOT NULL, end_line INTEGER NOT NULL, text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_by_file ON chunks(file_id);
CREATE INDEX IF NOT EXISTS chunks_by_row ON chunks(row);
"""


@dataclass(frozen=True)
class FileRecord:
    path: str
    sha256: str
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class FileUpdate:
    """A file's new content: its record, its chunks and one vector per chunk."""

    record: FileRecord
    chunks: Sequence[Chunk]
    vectors: NDArray[np.float32]


@dataclass(frozen=True)
class Hit:
    score: float
    path: str
    start_line: int
    end_line: int
    text: str


class VectorStore:
    """One index directory. Open with `VectorStore.create_or_open` to write, `VectorStore.open` to read."""

    def __init__(self, directory: Path, connection: sqlite3.Connection, lock_file: Any | None):
        self.directory = directory
        self.db = connection
        self._lock_file = lock_file
        self.settings = _settings(connection)
        if "dim" not in self.settings:  # the first run was stopped before it recorded its settings
            connection.close()
            raise LocalIndexError(f"the index at {directory} holds nothing yet; run qwen3-rag index again")
        self.dim: int = self.settings["dim"]

    # ----- opening -----

    @classmethod
    def open(cls, directory: str | os.PathLike[str]) -> VectorStore:
        """Open an existing index for searching (never writes; safe while an indexer runs)."""
        directory = Path(directory)
        if not (directory / DATABASE).is_file():
            raise LocalIndexError(f"no index at {directory}; build one with: qwen3-rag index DIR --index {directory}")
        # Not mode=ro: after a writer is killed, the first reader may have to recover the WAL, which
        # a read-only connection cannot do. query_only keeps this connection from writing anything else.
        connection = sqlite3.connect(directory / DATABASE, check_same_thread=False)
        connection.execute("PRAGMA query_only = ON")
        return cls(directory, connection, None)

    @staticmethod
    def recorded_settings(directory: str | os.PathLike[str]) -> dict[str, Any]:
        """The settings an index was built with; empty when there is no index (or it never got that far)."""
        path = Path(directory) / DATABASE
        if not path.is_file():
            return {}
        connection = sqlite3.connect(path)
        try:
            return _settings(connection)
        finally:
            connection.close()

    @classmethod
    def create_or_open(cls, directory: str | os.PathLike[str], settings: Mapping[str, Any]) -> VectorStore:
        """Open for writing, creating the index with `settings` if it does not exist yet.

        An existing index must have been built with the same `settings`; one writer at a time.
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        lock_file = open(directory / LOCK, "w")  # noqa: SIM115 - held for the store's lifetime
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock_file.close()
            raise LocalIndexError(f"another qwen3-rag process is writing the index at {directory}") from None
        connection = sqlite3.connect(directory / DATABASE, check_same_thread=False)
        connection.execute("PRAGMA journal_mode=WAL")  # readers keep searching while we write
        connection.execute("PRAGMA foreign_keys=ON")
        with connection:
            connection.executescript(_SCHEMA)
            if connection.execute("SELECT COUNT(*) FROM meta").fetchone()[0] == 0:
                stored = {**settings, "format_version": FORMAT_VERSION, "vectors_file": _new_vectors_name()}
                connection.executemany("INSERT INTO meta VALUES (?, ?)",
                                       [(k, json.dumps(v)) for k, v in stored.items()])
        store = cls(directory, connection, lock_file)
        store.check_settings(settings)
        store._recover()
        return store

    def check_settings(self, wanted: Mapping[str, Any]) -> None:
        """Refuse to mix vectors: every setting in `wanted` must equal the one the index was built with."""
        if self.settings.get("format_version") != FORMAT_VERSION:
            raise LocalIndexError(f"the index at {self.directory} has format {self.settings.get('format_version')}; "
                                  f"this qwen3-rag reads format {FORMAT_VERSION}; rebuild it in a new directory")
        check_same_settings(self.directory, self.settings, wanted)

    def close(self) -> None:
        self.db.close()
        if self._lock_file is not None:
            self._lock_file.close()

    def __enter__(self) -> VectorStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ----- vector file -----

    @property
    def _vectors_path(self) -> Path:
        return self.directory / self.settings["vectors_file"]

    @property
    def _row_bytes(self) -> int:
        return self.dim * 4

    def _file_rows(self) -> int:
        path = self._vectors_path
        return path.stat().st_size // self._row_bytes if path.exists() else 0

    def _recover(self) -> None:
        """Cut rows no chunk points at off the end (left by a crash), and delete stale vector files."""
        last = self.db.execute("SELECT MAX(row) FROM chunks").fetchone()[0]
        keep_bytes = (0 if last is None else last + 1) * self._row_bytes
        with open(self._vectors_path, "ab") as vectors:
            if vectors.tell() > keep_bytes:
                vectors.truncate(keep_bytes)
        for stale in self.directory.glob("vectors-*.f32"):
            if stale.name != self.settings["vectors_file"]:
                stale.unlink()

    def _append(self, vectors: NDArray[np.float32]) -> int:
        """Append rows durably and return the first new row number."""
        first = self._file_rows()
        with open(self._vectors_path, "ab") as out:
            out.write(np.ascontiguousarray(vectors, dtype=np.float32).tobytes())
            out.flush()
            os.fsync(out.fileno())
        return first

    def _matrix(self) -> NDArray[np.float32]:
        rows = self._file_rows()
        if rows == 0:
            return np.empty((0, self.dim), dtype=np.float32)
        return np.memmap(self._vectors_path, dtype=np.float32, mode="r", shape=(rows, self.dim))

    # ----- writing -----

    def files(self) -> dict[str, FileRecord]:
        rows = self.db.execute("SELECT path, sha256, size, mtime_ns FROM files")
        return {path: FileRecord(path, sha, size, mtime) for path, sha, size, mtime in rows}

    def write(self, updates: Iterable[FileUpdate]) -> None:
        """Replace these files' chunks and vectors in one durable step."""
        updates = list(updates)
        for update in updates:
            if update.vectors.shape != (len(update.chunks), self.dim):
                raise InvalidArgumentError(f"{update.record.path}: {len(update.chunks)} chunks need vectors of "
                                           f"shape ({len(update.chunks)}, {self.dim}), got {update.vectors.shape}")
        all_vectors = [u.vectors for u in updates if len(u.chunks)]
        row = self._append(np.concatenate(all_vectors)) if all_vectors else 0
        with self.db:
            for update in updates:
                record = update.record
                self.db.execute("DELETE FROM files WHERE path = ?", (record.path,))
                file_id = self.db.execute("INSERT INTO files (path, sha256, size, mtime_ns) VALUES (?, ?, ?, ?)",
                                          (record.path, record.sha256, record.size, record.mtime_ns)).lastrowid
                self.db.executemany(
                    "INSERT INTO chunks (file_id, row, start_line, end_line, text) VALUES (?, ?, ?, ?, ?)",
                    [(file_id, row + i, c.start_line, c.end_line, c.text) for i, c in enumerate(update.chunks)],
                )
                row += len(update.chunks)

    def touch(self, records: Iterable[FileRecord]) -> None:
        """Record a new size/mtime for files whose content is unchanged, so they are not re-read next time."""
        with self.db:
            self.db.executemany("UPDATE files SET size = ?, mtime_ns = ? WHERE path = ?",
                                [(r.size, r.mtime_ns, r.path) for r in records])

    def remove(self, paths: Iterable[str]) -> None:
        with self.db:
            self.db.executemany("DELETE FROM files WHERE path = ?", [(p,) for p in paths])

    def garbage_rows(self) -> int:
        return self._file_rows() - self.chunk_count()

    def compact(self) -> None:
        """Rewrite the vector file with only the rows chunks point at, then switch to it atomically."""
        pairs = self.db.execute("SELECT id, row FROM chunks ORDER BY row").fetchall()
        old_matrix, old_path = self._matrix(), self._vectors_path
        new_name = _new_vectors_name()
        with open(self.directory / new_name, "wb") as out:
            for start in range(0, len(pairs), SCORE_BLOCK_ROWS):
                rows = [row for _, row in pairs[start:start + SCORE_BLOCK_ROWS]]
                out.write(np.ascontiguousarray(old_matrix[rows]).tobytes())
            out.flush()
            os.fsync(out.fileno())
        del old_matrix
        with self.db:
            self.db.executemany("UPDATE chunks SET row = ? WHERE id = ?",
                                [(new_row, chunk_id) for new_row, (chunk_id, _) in enumerate(pairs)])
            self.db.execute("UPDATE meta SET value = ? WHERE key = 'vectors_file'", (json.dumps(new_name),))
        self.settings["vectors_file"] = new_name
        old_path.unlink(missing_ok=True)

    # ----- reading -----

    def chunk_count(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]

    def file_count(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM files").fetchone()[0]

    def search(self, query: NDArray[np.float32], top_n: int) -> list[Hit]:
        """The `top_n` chunks by dot product with `query`, best first (ties: lower row first)."""
        if query.shape != (self.dim,):
            raise InvalidArgumentError(f"query vector must have shape ({self.dim},), got {query.shape}")
        live, matrix = self._snapshot()
        if live.size == 0:
            return []
        scores = np.concatenate([matrix[i:i + SCORE_BLOCK_ROWS] @ query
                                 for i in range(0, matrix.shape[0], SCORE_BLOCK_ROWS)])[live]
        top = min(top_n, live.size)
        best = np.argpartition(-scores, top - 1)[:top]
        best = best[np.lexsort((live[best], -scores[best]))]
        return [self._hit(int(live[i]), float(scores[i])) for i in best]

    def _snapshot(self) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
        """Live rows and the vector matrix as of one read transaction, so the two agree."""
        try:
            return self._read_snapshot()
        except FileNotFoundError:  # a compaction switched files between our reads; its new name is committed
            return self._read_snapshot()

    def _read_snapshot(self) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
        self.db.execute("BEGIN")
        try:
            self.settings["vectors_file"] = json.loads(
                self.db.execute("SELECT value FROM meta WHERE key = 'vectors_file'").fetchone()[0])
            live = np.fromiter((row for (row,) in self.db.execute("SELECT row FROM chunks")), dtype=np.int64)
            return live, self._matrix()  # memmap opens the file now; a later unlink cannot pull it away
        finally:
            self.db.execute("COMMIT")

    def _hit(self, row: int, score: float) -> Hit:
        path, start, end, text = self.db.execute(
            "SELECT files.path, start_line, end_line, text FROM chunks JOIN files ON files.id = chunks.file_id "
            "WHERE row = ?", (row,)).fetchone()
        return Hit(score, path, start, end, text)

    def vectors_by_chunk(self) -> dict[tuple[str, int, int, str], NDArray[np.float32]]:
        """Every chunk's vector keyed by (path, start_line, end_line, text): for checks and exports."""
        matrix = self._matrix()
        rows = self.db.execute("SELECT files.path, start_line, end_line, text, row FROM chunks "
                               "JOIN files ON files.id = chunks.file_id")
        return {(p, s, e, t): np.array(matrix[row]) for p, s, e, t, row in rows}


def check_same_settings(directory: Path, recorded: Mapping[str, Any], wanted: Mapping[str, Any]) -> None:
    """Refuse to mix vectors: every setting in `wanted` must equal the one recorded."""
    clashes = [f"{key}: index has {recorded.get(key)!r}, asked for {value!r}"
               for key, value in wanted.items() if recorded.get(key) != value]
    if clashes:
        raise LocalIndexError(f"the index at {directory} was built with other settings ({'; '.join(clashes)}); "
                              "use the index's settings or build a new index elsewhere")


def _settings(connection: sqlite3.Connection) -> dict[str, Any]:
    try:
        return {key: json.loads(value) for key, value in connection.execute("SELECT key, value FROM meta")}
    except sqlite3.OperationalError:  # no meta table: killed before the schema was committed
        return {}


def _new_vectors_name() -> str:
    return f"vectors-{uuid.uuid4().hex[:12]}.f32"
