"""The index's tables in LanceDB: `chunks`, which search reads, and `files`, which the next run compares.

LanceDB gives what a hand-made store got wrong: every write is an atomic, versioned commit (a
killed writer leaves the last committed version), and a reader works on the version it opened
while a writer adds, deletes, compacts or indexes. Chunk rows hold their text, vector and place
together, so a hit can never pair one chunk's text with another's score.

Invariant kept across crashes: every chunk's file has a row in `files`. A file's chunks are
written before its row, so a run killed in between leaves chunks without a row; the next writer
deletes those before it reads `files`, and the file is indexed again. Rows are selected by
`file_id`, a number derived from the path, so no path ever appears inside a filter expression.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import lancedb
import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from ..display import escaped, quoted
from ..errors import InvalidArgumentError, LocalIndexError
from ..quantization import output_width, quantize_embeddings, scaled_int8
from ..validation import check_positive_int
from .chunking import Chunk
from .folder import (
    STAGING,
    TABLE_FOLDERS,
    WriteLock,
    check_folder,
    check_same_settings,
    clear_folder,
    exchange,
    make_folder,
    rebuild_hint,
)
from .manifest_check import check_table
from .precision import DEFAULT_RESCORE, INDEX_PRECISIONS, QUANTIZED, recorded_precision
from .seal import check_sealed, current, write_seal
from .search import Found, ensure_indexes, search_table, stored_vectors

FORMAT_VERSION = 2
SETTINGS_KEY = b"qwen3_rag.settings"
# Old versions stay readable this long after a newer one is committed, for searches that opened them.
KEEP_OLD_VERSIONS = timedelta(minutes=10)
LANCE_ERRORS = (RuntimeError, OSError, ValueError, pa.ArrowException)  # how LanceDB reports a bad table
SEALED_TABLES = tuple(sorted(TABLE_FOLDERS))

FILES_SCHEMA = pa.schema(
    [
        pa.field("file_id", pa.int64(), nullable=False),
        pa.field("path", pa.string()),
        pa.field("sha256", pa.string()),
        pa.field("size", pa.int64()),
        pa.field("mtime_ns", pa.int64()),
    ]
)


def chunks_schema(dim: int, settings: Mapping[str, Any] | None = None, precision: str = "float32") -> pa.Schema:
    """`id`, `text`, `vector` and `metadata` (JSON: path, chunk, start_line, end_line): the columns
    `langchain_lancedb.LanceDB` reads, so LangChain opens a float32 index as a vector store.

    A "binary" index keeps compact vectors instead: `vector` holds the sign bits, packed (recall by
    Hamming distance), and `rescore` / `step` each vector in int8 steps of its own size (rescoring
    against the float query): 1,156 bytes a chunk at 1024 dims, not 4,096. An "int8" index keeps only the
    int8 steps, in `vector`, and their `step`: 1,028 bytes a chunk, searched by an exact scan.
    """
    precision = recorded_precision(settings) if settings is not None else precision
    int8_steps = [pa.field("step", pa.float32(), nullable=False)]
    if precision == "binary":
        vector_fields = [
            pa.field("vector", pa.list_(pa.uint8(), output_width("binary", dim)), nullable=False),
            pa.field("rescore", pa.list_(pa.int8(), dim), nullable=False),
            *int8_steps,
        ]
    elif precision == "int8":
        vector_fields = [pa.field("vector", pa.list_(pa.int8(), dim), nullable=False), *int8_steps]
    else:
        vector_fields = [pa.field("vector", pa.list_(pa.float32(), dim), nullable=False)]
    schema = pa.schema(
        [
            pa.field("id", pa.string(), nullable=False),  # "<path>#<chunk number>"
            pa.field("file_id", pa.int64(), nullable=False),
            pa.field("text", pa.string(), nullable=False),
            *vector_fields,
            pa.field("metadata", pa.string(), nullable=False),
        ]
    )
    if settings is None:
        return schema
    return schema.with_metadata({SETTINGS_KEY: json.dumps({**settings, "format_version": FORMAT_VERSION})})


def file_id(path: str) -> int:
    """A 63-bit number for a path: rows are found by it, never by quoting a stranger's file name."""
    return int.from_bytes(hashlib.sha256(path.encode("utf-8", "surrogatepass")).digest()[:8], "big") >> 1


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


class IndexStore:
    """One index folder. `IndexStore.open` to search (never writes), `IndexStore.create_or_open` to write."""

    def __init__(self, directory: Path, chunks: Any, files: Any | None = None, lock: WriteLock | None = None):
        self.directory = directory
        self.chunks, self._lock = chunks, lock
        self._publish: tuple[Path, WriteLock] | None = None  # a rebuild's target index and its lock
        self.files_table: Any = files  # None when opened for searching, which never touches it
        self.settings = self._read_settings()
        self.dim: int = self.settings["dim"]
        self.precision = recorded_precision(self.settings)

    # ----- opening -----

    @classmethod
    def open(cls, directory: str | os.PathLike[str], version: int | None = None) -> IndexStore:
        """Open an existing index for searching, at its latest committed version (or at `version`,
        while the writer's clean-up keeps it: `KEEP_OLD_VERSIONS`)."""
        directory = Path(directory)
        if not check_folder(directory):
            raise LocalIndexError(
                f"no index at {quoted(directory)}; build one with: qwen3-rag index DIR --index {quoted(directory)}"
            )
        check_sealed(directory, SEALED_TABLES, writer=False)  # before LanceDB reads a byte of it
        chunks = _open_table(_connect(directory), "chunks", directory)
        if version is not None:
            try:
                chunks.checkout(version)
            except LANCE_ERRORS as error:
                raise LocalIndexError(
                    f"the index at {quoted(directory)} has no version {version!r} ({_first_line(error)})"
                ) from None
        return cls(directory, chunks)

    @staticmethod
    def recorded_settings(directory: str | os.PathLike[str]) -> dict[str, Any]:
        """The settings an index was built with; empty when there is no index yet."""
        directory = Path(directory)
        if not check_folder(directory) or not _has_versions(directory / "chunks.lance"):
            return {}
        check_sealed(directory, SEALED_TABLES, writer=False)
        return dict(IndexStore(directory, _open_table(_connect(directory), "chunks", directory)).settings)

    @classmethod
    def create_or_open(
        cls, directory: str | os.PathLike[str], settings: Mapping[str, Any], *, rebuild: bool = False
    ) -> IndexStore:
        """Open for writing (one writer at a time), creating the index with `settings` if needed.

        An existing index must have been built with the same `settings`. With `rebuild`, a healthy
        index this account wrote is built anew aside (in its `rebuild` folder) and swapped in when
        the store is closed after success, so searches meanwhile answer from the old one; anything
        else (damage, a planted or old-format folder) has its own files deleted first, and nothing else.
        """
        directory = Path(directory)
        make_folder(directory)
        lock = WriteLock(directory)
        try:
            if rebuild and _healthy(directory):
                staging = directory / STAGING
                if staging.exists():
                    shutil.rmtree(staging)  # a rebuild that did not finish; checked by check_folder above
                store = cls.create_or_open(staging, settings)
                store._publish = (directory, lock)
                return store
            if rebuild:
                clear_folder(directory)
            check_folder(directory)
            # The manifests on disk, proven ours, sealed again as a writer's (a killed writer's commits too).
            write_seal(directory, check_sealed(directory, SEALED_TABLES, writer=True), writing=True)
            db = _connect(directory)
            if not _has_versions(directory / "chunks.lance"):  # new, or killed before its first commit
                if _has_versions(directory / "files.lance"):  # made after chunks: its versions were lost
                    raise damaged_error(directory, "the chunks table has no committed version")
                clear_folder(directory)
                write_seal(directory, writing=True)  # before the first commit: a kill after it leaves ours
                chunks = db.create_table("chunks", schema=chunks_schema(settings["dim"], settings))
            else:
                chunks = _open_table(db, "chunks", directory)
            files = (
                _open_table(db, "files", directory)
                if _has_versions(directory / "files.lance")
                else db.create_table("files", schema=FILES_SCHEMA, exist_ok=True)
            )
            store = cls(directory, chunks, files, lock)
            store.seal()
            store.check_settings(settings)
            store._check_files_schema()
            store._drop_orphans()
            store.seal()
            return store
        except BaseException:
            lock.release()
            raise

    def check_settings(self, wanted: Mapping[str, Any]) -> None:
        """Refuse to mix vectors: every setting in `wanted` must equal the one the index was built with."""
        check_same_settings(self.directory, self.settings, wanted)

    @property
    def home(self) -> Path:
        """The index folder this store is for (a rebuild writes in its `rebuild` folder, then swaps in)."""
        return self._publish[0] if self._publish is not None else self.directory

    def close(self, publish: bool = False) -> None:
        """Seal and unlock. A rebuild is swapped in only when `publish` (the `with` block succeeded)."""
        if self._lock is not None:
            try:
                self.seal(writing=False)
            finally:
                self._lock.release()
                self._lock = None
        if self._publish is not None:
            target, lock = self._publish
            self._publish = None
            try:
                if publish:
                    _swap_in(self.directory, target)
            finally:
                lock.release()

    def seal(self, writing: bool = True) -> None:
        """Seal what is committed now as this account's (see seal.py); a writer does it after each commit."""
        write_seal(self.directory, current(self.directory, SEALED_TABLES), writing=writing)

    @staticmethod
    def trust(directory: str | os.PathLike[str]) -> int:
        """Accept an index this account did not seal (copied, moved from a drive, restored from a backup):
        its folder is checked as for any open, every manifest is decoded in Python and must name only
        plain files inside its own table (manifest_check.py), then the manifests are sealed with this
        account's key. Returns how many were sealed. Only for an index from a source you trust."""
        directory = Path(directory)
        if not check_folder(directory):
            raise LocalIndexError(f"no index at {quoted(directory)} to trust")
        lock = WriteLock(directory)
        try:
            found = current(directory, SEALED_TABLES)
            for table, names in found.items():
                check_table(directory / table, names)
            write_seal(directory, found, writing=False)
        finally:
            lock.release()
        return sum(len(names) for names in found.values())

    def __enter__(self) -> IndexStore:
        return self

    def __exit__(self, exc_type: object, *exc_info: object) -> None:
        self.close(publish=exc_type is None)  # a rebuild that failed never replaces the index

    # ----- checks -----

    def damaged(self, problem: object) -> LocalIndexError:
        return damaged_error(self.directory, problem)

    def _read_settings(self) -> dict[str, Any]:
        try:
            schema = self.chunks.schema
            settings = json.loads((schema.metadata or {})[SETTINGS_KEY])
            dim = settings["dim"]
        except (KeyError, TypeError, ValueError) as error:
            raise self.damaged(f"its settings are missing or unreadable: {type(error).__name__}") from None
        if settings.get("format_version") != FORMAT_VERSION:
            raise LocalIndexError(
                f"the index at {quoted(self.directory)} has format "
                f"{settings.get('format_version')!r} and this qwen3-rag reads format "
                f"{FORMAT_VERSION}; {rebuild_hint(self.directory)}"
            )
        if (
            not isinstance(dim, int)
            or isinstance(dim, bool)
            or not 0 < dim <= 65536
            or recorded_precision(settings) not in INDEX_PRECISIONS
            or not schema.equals(chunks_schema(dim, precision=recorded_precision(settings)))
        ):
            raise self.damaged("its chunks table does not have the columns qwen3-rag writes")
        return settings

    def _check_files_schema(self) -> None:
        if not self.files_table.schema.equals(FILES_SCHEMA):
            raise self.damaged("its files table does not have the columns qwen3-rag writes")

    def _drop_orphans(self) -> None:
        """Delete chunks whose file has no row (a run killed between the two writes), reading every fragment."""
        try:
            in_chunks = set(self._column(self.chunks, "file_id"))
            orphans = in_chunks - set(self._column(self.files_table, "file_id"))
        except LANCE_ERRORS as error:
            raise self.damaged(error) from None
        if orphans:
            self.chunks.delete(_id_filter(orphans))

    @staticmethod
    def _column(table: Any, name: str) -> list[Any]:
        return table.search().select([name]).limit(None).to_arrow().column(name).to_pylist()

    # ----- writing -----

    def files(self) -> dict[str, FileRecord]:
        rows = self.files_table.to_arrow().to_pylist() if self.files_table.count_rows() else []
        return {row["path"]: FileRecord(row["path"], row["sha256"], row["size"], row["mtime_ns"]) for row in rows}

    def write(self, updates: Iterable[FileUpdate], known: Iterable[str] = ()) -> None:
        """Replace these files' chunks, then record the files; `known` are the paths that had chunks before."""
        updates = list(updates)
        for update in updates:
            if update.vectors.shape != (len(update.chunks), self.dim):
                raise InvalidArgumentError(
                    f"{update.record.path}: {len(update.chunks)} chunks need vectors of "
                    f"shape ({len(update.chunks)}, {self.dim}), got {update.vectors.shape}"
                )
        replaced = set(known) & {u.record.path for u in updates}
        if replaced:
            self.chunks.delete(_id_filter(file_id(path) for path in replaced))
        rows = _chunk_rows(updates, self.dim, self.chunks.schema, self.precision)
        if rows.num_rows:
            self.chunks.add(rows)
        self.record([u.record for u in updates])  # seals

    def record(self, records: Sequence[FileRecord]) -> None:
        """Insert or update these files' rows (size and time too, so unchanged files are not read again)."""
        if records:
            table = pa.table(
                {
                    "file_id": [file_id(r.path) for r in records],
                    "path": [r.path for r in records],
                    "sha256": [r.sha256 for r in records],
                    "size": [r.size for r in records],
                    "mtime_ns": [r.mtime_ns for r in records],
                },
                schema=FILES_SCHEMA,
            )
            self.files_table.merge_insert("file_id").when_matched_update_all().when_not_matched_insert_all().execute(
                table
            )
        self.seal()

    def remove(self, paths: Iterable[str]) -> None:
        """Forget these files: chunks first, so no chunk is ever left without its file's row."""
        ids = {file_id(path) for path in paths}
        if ids:
            self.chunks.delete(_id_filter(ids))
            self.files_table.delete(_id_filter(ids))
            self.seal()

    def optimize(self, vector_index_from: int) -> None:
        """Compact small commits, keep the full-text (and, from `vector_index_from` chunks, vector) index current."""
        ensure_indexes(self.chunks, vector_index_from, self.precision)
        self.seal()
        for table in (self.chunks, self.files_table):
            table.optimize(cleanup_older_than=KEEP_OLD_VERSIONS)
            self.seal()

    # ----- reading -----

    def chunk_count(self) -> int:
        return self.chunks.count_rows()

    def file_count(self) -> int:
        if self.files_table is not None:
            return self.files_table.count_rows()
        return len(set(self._column(self.chunks, "file_id")))

    @property
    def version(self) -> int:
        return self.chunks.version

    def search(
        self, query: NDArray[np.float32], top_n: int, text: str | None = None, rescore: int | None = None
    ) -> Found:
        """The best `top_n` chunks for `query` (and, for hybrid recall, `text`) in one committed version.

        In a binary index, `rescore` x `top_n` chunks (None: `DEFAULT_RESCORE`) are recalled by Hamming
        distance and ordered by their int8 vectors' dot product with the float `query`; another index takes
        no `rescore` (it would change nothing), and an int8 index is scanned whole.

        A search that loses a race with a writer's clean-up of old versions runs again on the newest
        version; a failure on an unchanged version is damage, reported as such.
        """
        if query.shape != (self.dim,):
            raise InvalidArgumentError(f"query vector must have shape ({self.dim},), got {query.shape}")
        if rescore is not None and self.precision != "binary":
            raise InvalidArgumentError(f"rescore applies to a binary index; this one stores {self.precision} vectors")
        rescore = DEFAULT_RESCORE if rescore is None else check_positive_int(rescore, "rescore")
        for attempt in range(2):
            try:
                return search_table(self.chunks, query, top_n, text, self.damaged, self.precision, rescore)
            except LANCE_ERRORS as error:
                if attempt:
                    raise self.damaged(error) from None
                # A writer's clean-up removed this version, or a rebuild swapped the table: the newest, sealed.
                check_sealed(self.directory, SEALED_TABLES, writer=False)
                self.chunks = _open_table(_connect(self.directory), "chunks", self.directory)
        raise AssertionError("unreachable")

    def vectors_by_chunk(self) -> dict[tuple[str, int, int, str], NDArray[np.float32]]:
        """Every chunk's vector keyed by (path, start_line, end_line, text): for checks and exports
        (a quantized index's are its int8 vectors, scaled back)."""
        table = self.chunks.to_arrow()
        vectors = stored_vectors(table, self.dim, self.precision)
        places = [json.loads(m) for m in table.column("metadata").to_pylist()]
        keys = [
            (m["path"], m["start_line"], m["end_line"], t)
            for m, t in zip(places, table.column("text").to_pylist(), strict=True)
        ]
        return dict(zip(keys, vectors.reshape(-1, self.dim), strict=True))


def _healthy(directory: Path) -> bool:
    """Whether `directory` holds an index this account sealed that LanceDB opens (a rebuild can go aside)."""
    try:
        if not check_folder(directory) or not _has_versions(directory / "chunks.lance"):
            return False
        check_sealed(directory, SEALED_TABLES, writer=True)
        _open_table(_connect(directory), "chunks", directory).schema  # noqa: B018 - reads the manifest
    except LocalIndexError:
        return False
    return True


def _swap_in(staging: Path, target: Path) -> None:
    """Put the rebuilt tables in `staging` in place of `target`'s. The seal covers both sets while they
    swap; chunks go last, and searches read only chunks, so each search sees the old or the new index."""
    old, new = current(target, SEALED_TABLES), current(staging, SEALED_TABLES)
    write_seal(target, old, new, writing=True)
    for table in ("files.lance", "chunks.lance"):
        if (target / table).exists():
            exchange(staging / table, target / table)
        else:
            os.rename(staging / table, target / table)
    write_seal(target, current(target, SEALED_TABLES), writing=False)
    shutil.rmtree(staging)  # the old tables; a search still reading them reopens the new ones


def damaged_error(directory: Path, problem: object) -> LocalIndexError:
    return LocalIndexError(
        f"the index at {quoted(directory)} is damaged ({_first_line(problem)}); {rebuild_hint(directory)}"
    )


def _connect(directory: Path) -> Any:
    # An absolute path: a relative name such as "s3://x" must never be read as a remote URI.
    return lancedb.connect(str(directory.absolute()))


def _open_table(db: Any, name: str, directory: Path) -> Any:
    try:
        return db.open_table(name)
    except LANCE_ERRORS as error:
        raise damaged_error(directory, f"{name} table: {_first_line(error)}") from None


def _has_versions(table_folder: Path) -> bool:
    versions = table_folder / "_versions"
    return versions.is_dir() and any(name.endswith(".manifest") for name in os.listdir(versions))


def _id_filter(ids: Iterable[int]) -> str:
    return f"file_id IN ({', '.join(str(int(i)) for i in sorted(ids))})"


def _chunk_rows(updates: Sequence[FileUpdate], dim: int, schema: pa.Schema, precision: str) -> pa.Table:
    ids, file_ids, texts, metadata, vectors = [], [], [], [], []
    for update in updates:
        path = update.record.path
        for number, chunk in enumerate(update.chunks):
            ids.append(f"{path}#{number}")
            file_ids.append(file_id(path))
            texts.append(chunk.text)
            metadata.append(
                json.dumps(
                    {"path": path, "chunk": number, "start_line": chunk.start_line, "end_line": chunk.end_line},
                    ensure_ascii=False,
                )
            )
        vectors.append(np.asarray(update.vectors, dtype=np.float32).reshape(-1, dim))
    floats = np.concatenate(vectors) if vectors else np.empty((0, dim), dtype=np.float32)
    columns: dict[str, Any] = {"id": ids, "file_id": file_ids, "text": texts}
    if precision in QUANTIZED:
        steps, step = scaled_int8(floats)
        columns["step"] = step
        if precision == "binary":
            columns["vector"] = _fixed_size(quantize_embeddings(floats, "ubinary"))
            columns["rescore"] = _fixed_size(steps)
        else:
            columns["vector"] = _fixed_size(steps)
    else:
        columns["vector"] = _fixed_size(floats)
    return pa.table({**columns, "metadata": metadata}, schema=schema)


def _fixed_size(rows: NDArray[Any]) -> pa.FixedSizeListArray:
    return pa.FixedSizeListArray.from_arrays(pa.array(np.ascontiguousarray(rows).reshape(-1)), rows.shape[1])


def _first_line(problem: object) -> str:
    lines = str(problem).strip().splitlines()
    return escaped(lines[0][:300]) if lines else type(problem).__name__
