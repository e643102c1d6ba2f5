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
import time
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
from ..validation import check_positive_int
from .advice import rebuild_hint, update_hint
from .chunking import Chunk
from .folder import (
    SEAL,
    STAGING,
    TABLE_FOLDERS,
    WriteLock,
    check_folder,
    check_same_settings,
    clear_folder,
    exchange,
    make_folder,
    no_index_error,
)
from .layouts import FLOAT32, VectorLayout, find_layout, layout_of
from .manifest_check import check_table
from .precision import recorded_precision
from .seal import RETRY_SECONDS, check_sealed, check_served, current, replace_seal, saved_seal, write_seal
from .search import Found, ensure_indexes, index_kinds, search_table

FORMAT_VERSION = 3  # 3: paths relative to the index's folder, chunks found again by text_hash
READABLE_FORMATS = (2, 3)  # 2 is searched as it is; adding to it asks for a rebuild
SETTINGS_KEY = b"qwen3_rag.settings"
# Old versions stay readable this long after a newer one is committed, for searches that opened them.
KEEP_OLD_VERSIONS = timedelta(minutes=10)
SEARCH_ATTEMPTS = 5  # a search that fails while the index changes under it (`_seen`) runs again, this often at most
OPEN_SECONDS = 5.0  # how long a reader opens again while a rebuild swaps the tables or a writer reseals
READ_ALL_ROWS = 8192  # rows a batch when --trust reads every row
LANCE_ERRORS = (RuntimeError, OSError, ValueError, pa.ArrowException)  # how LanceDB reports a bad table
SEALED_TABLES = tuple(sorted(TABLE_FOLDERS))

FILES_SCHEMA = pa.schema(
    [
        pa.field("file_id", pa.int64(), nullable=False),
        pa.field("path", pa.string()),
        pa.field("sha256", pa.string()),
        pa.field("size", pa.int64()),
        pa.field("mtime_ns", pa.int64()),
        pa.field("document", pa.bool_()),  # written by id (`add_documents`), not found under a folder
    ]
)


def chunks_schema(
    dim: int,
    settings: Mapping[str, Any] | None = None,
    layout: VectorLayout = FLOAT32,
    format_version: int = FORMAT_VERSION,
) -> pa.Schema:
    """`id`, `text`, `vector` and `metadata` (JSON: path, chunk, start_line, end_line): the columns
    `langchain_lancedb.LanceDB` reads, so LangChain opens a float32 index as a vector store; and
    `text_hash`, by which a chunk already embedded is found again (a moved or copied file costs no forward pass).

    The vector columns are those of the index's `layout` (the one its `settings` name, when given): an int8
    or binary index keeps compact vectors instead (layouts.py). Format 2 (absolute paths, no `text_hash`) is
    still read for searching.
    """
    layout = layout_of(settings) if settings is not None else layout
    text_hash = [pa.field("text_hash", pa.int64(), nullable=False)] if format_version >= 3 else []
    schema = pa.schema(
        [
            pa.field("id", pa.string(), nullable=False),  # "<path>#<chunk number>"
            pa.field("file_id", pa.int64(), nullable=False),
            pa.field("text", pa.string(), nullable=False),
            *text_hash,
            *layout.fields(dim),
            pa.field("metadata", pa.string(), nullable=False),
        ]
    )
    if settings is None:
        return schema
    return schema.with_metadata({SETTINGS_KEY: json.dumps({**settings, "format_version": FORMAT_VERSION})})


def text_hash(text: str) -> int:
    """A signed 64-bit number for a chunk's text: chunks are looked up by it (then compared by text)."""
    return int.from_bytes(hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()[:8], "big", signed=True)


def file_id(path: str) -> int:
    """A 63-bit number for a path: rows are found by it, never by quoting a stranger's file name."""
    return int.from_bytes(hashlib.sha256(path.encode("utf-8", "surrogatepass")).digest()[:8], "big") >> 1


@dataclass(frozen=True)
class FileRecord:
    path: str
    sha256: str
    size: int
    mtime_ns: int
    document: bool = False  # an entry written by id (`add_documents`), never a file a walk looks for


@dataclass(frozen=True)
class FileUpdate:
    """A file's new content: its record, its chunks and one vector per chunk, as the index stores vectors
    (`IndexStore.encode` of new ones, or the rows of chunks found again by text)."""

    record: FileRecord
    chunks: Sequence[Chunk]
    vectors: pa.Table


class IndexStore:
    """One index folder. `IndexStore.open` to search (never writes), `IndexStore.create_or_open` to write."""

    def __init__(self, directory: Path, chunks: Any, files: Any | None = None, lock: WriteLock | None = None):
        self.directory = directory
        self.chunks, self._lock = chunks, lock
        self._publish: tuple[Path, WriteLock] | None = None  # a rebuild's target index and its lock
        self._seen: Seen | None = None  # a reader's `_seen` of the index when it opened its table
        self.files_table: Any = files  # None when opened for searching, which never touches it
        self.settings = self._read_settings()
        self.dim: int = self.settings["dim"]
        self.layout = layout_of(self.settings)  # how its vectors are stored and searched: chosen once, here
        self.format_version: int = self.settings["format_version"]

    @property
    def precision(self) -> str:
        return self.layout.precision

    # ----- opening -----

    @classmethod
    def open(cls, directory: str | os.PathLike[str], version: int | None = None) -> IndexStore:
        """Open an existing index for searching, at its newest sealed version (or at `version`, while the
        writer's clean-up keeps it: `KEEP_OLD_VERSIONS`), once the files it names are checked against the
        seal (seal.py): a writer's commit that is not sealed yet is never served."""
        directory = Path(directory)
        if not check_folder(directory):
            raise no_index_error(directory)
        chunks, seen = _open_served(directory, version)  # checked against the seal before LanceDB reads a byte
        store = cls(directory, chunks)
        store._seen = seen
        return store

    @staticmethod
    def recorded_settings(directory: str | os.PathLike[str]) -> dict[str, Any]:
        """The settings an index was built with; empty when there is no index yet."""
        directory = Path(directory)
        if not check_folder(directory) or not _has_versions(directory / "chunks.lance"):
            return {}
        return dict(IndexStore(directory, _open_served(directory)[0]).settings)

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
            store._check_writable()
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
        plain files inside its own table, once each (manifest_check.py), then the manifests and every file
        they name (hashed afresh) are sealed with this account's key. Last, LanceDB reads every row of both
        tables and answers a search in the limited helper process (reader.py): a data file it cannot read
        withdraws the seal, so LanceDB in this process (a writer) only ever reads bytes that passed.
        Returns how many manifests were sealed. Only for an index from a source you trust."""
        from .reader import ReaderError, read_everything

        directory = Path(directory)
        if not check_folder(directory):
            raise LocalIndexError(f"no index at {quoted(directory)} to trust")
        lock = WriteLock(directory)
        try:
            found = current(directory, SEALED_TABLES)
            for table, names in found.items():
                check_table(directory / table, names)
            before = saved_seal(directory)
            write_seal(directory, found, writing=False, rehash=True)
            try:
                read_everything(directory)
            except LocalIndexError as error:
                replace_seal(directory, before)
                reason = error.reason if isinstance(error, ReaderError) else str(error)
                raise LocalIndexError(
                    f"the index at {quoted(directory)} cannot be trusted: {reason}; nothing was sealed"
                ) from None
            except BaseException:
                replace_seal(directory, before)
                raise
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
        version = settings.get("format_version")
        layout = find_layout(recorded_precision(settings))
        if version not in READABLE_FORMATS:
            raise LocalIndexError(
                f"the index at {quoted(self.directory)} has format {version!r} and this qwen3-rag reads "
                f"formats {READABLE_FORMATS[0]} to {READABLE_FORMATS[-1]}; {rebuild_hint()}"
            )
        if (
            not isinstance(dim, int)
            or isinstance(dim, bool)
            or not 0 < dim <= 65536
            or layout is None
            or not schema.equals(chunks_schema(dim, layout=layout, format_version=version))
        ):
            raise self.damaged("its chunks table does not have the columns qwen3-rag writes")
        return settings

    def _check_writable(self) -> None:
        if self.format_version != FORMAT_VERSION:
            raise LocalIndexError(
                f"the index at {quoted(self.directory)} was written by an earlier qwen3-rag (format "
                f"{self.format_version}: absolute paths, chunks not found again by content); search still reads "
                f"it; {update_hint()} once to upgrade it without embedding anything again, or "
                f"{rebuild_hint()}"
            )

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
        return {
            row["path"]: FileRecord(row["path"], row["sha256"], row["size"], row["mtime_ns"], row["document"] is True)
            for row in rows
        }

    def write(self, updates: Iterable[FileUpdate], known: Iterable[str] = ()) -> None:
        """Replace these files' chunks, then record the files; `known` are the paths that had chunks before."""
        updates = list(updates)
        for update in updates:
            if update.vectors.num_rows != len(update.chunks):
                raise InvalidArgumentError(
                    f"{update.record.path}: {len(update.chunks)} chunks need as many vectors, "
                    f"got {update.vectors.num_rows}"
                )
        replaced = set(known) & {u.record.path for u in updates}
        if replaced:
            self.chunks.delete(_id_filter(file_id(path) for path in replaced))
        rows = _chunk_rows(updates, self.chunks.schema, self.vector_schema.names)
        if rows.num_rows:
            self.chunks.add(rows)
        self.record([u.record for u in updates])  # seals

    def encode(self, vectors: NDArray[np.float32]) -> pa.Table:
        """Unit vectors, one a row, as this index stores them (its `vector_schema`)."""
        floats = np.asarray(vectors, dtype=np.float32)
        if floats.ndim != 2 or floats.shape[1] != self.dim:
            raise InvalidArgumentError(f"vectors must have shape (n, {self.dim}), got {floats.shape}")
        return self.layout.encode(floats)

    @property
    def vector_schema(self) -> pa.Schema:
        """The columns that hold one chunk's vector, as the index's layout stores it."""
        return pa.schema(self.layout.fields(self.dim))

    def reusable(self, texts: Sequence[str]) -> tuple[pa.Table, list[int | None]]:
        """What the index already stores for chunks with exactly these texts: the vector rows it found, and
        for each text the row of its vector there (None where no chunk has that text).

        Found by `text_hash` (a number, never text, in the filter), then compared by text."""
        schema = self.vector_schema
        hashes = sorted({text_hash(text) for text in texts})
        if not hashes:
            return schema.empty_table(), []
        found = (
            self.chunks.search()
            .where(f"text_hash IN ({', '.join(str(h) for h in hashes)})")
            .select(["text", *schema.names])
            .limit(None)
            .to_arrow()
        )
        first: dict[str, int] = {}
        for row, text in enumerate(found.column("text").to_pylist()):
            first.setdefault(text, row)
        return found.select(schema.names).cast(schema), [first.get(text) for text in texts]

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
                    "document": [r.document for r in records],
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
        ensure_indexes(self.chunks, vector_index_from, self.layout)
        self.seal()
        for table in (self.chunks, self.files_table):
            table.optimize(cleanup_older_than=KEEP_OLD_VERSIONS)
            self.seal()

    # ----- reading -----

    def rows_of(self, paths: Iterable[str], columns: list[str]) -> pa.Table:
        """The chunk rows of these files, selected by `file_id` (no path ever appears in the filter)."""
        ids = [file_id(path) for path in paths]
        if not ids:
            return self.chunks.schema.empty_table().select(columns)
        return self.chunks.search().where(_id_filter(ids)).select(columns).limit(None).to_arrow()

    @staticmethod
    def file_rows(directory: str | os.PathLike[str]) -> list[dict[str, Any]]:
        """The `files` table of a sealed index, as rows (what upgrading it keeps)."""
        rows: list[dict[str, Any]] = _open_served(Path(directory), table="files")[0].to_arrow().to_pylist()
        return rows

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

        In a binary index, `rescore` x `top_n` chunks (None: 50) are recalled by Hamming
        distance and ordered by their int8 vectors' cosine with the float `query`; in a float16 one by the
        RaBitQ estimate (None: 200) and re-ranked on their float16 vectors. Another index
        takes no `rescore` (it would change nothing), and an int8 index is scanned whole.

        A search that loses a race with a writer's clean-up of old versions, or with a rebuild that swaps
        the tables in, runs again on the newest sealed version, as long as the index changed in between
        (`_seen`); a failure on an unchanged index is damage, reported as such.
        """
        if query.shape != (self.dim,):
            raise InvalidArgumentError(f"query vector must have shape ({self.dim},), got {query.shape}")
        self.layout.refuse_rescore(rescore, "rescore")
        rescore = None if rescore is None else check_positive_int(rescore, "rescore")  # None: the layout's
        for attempt in range(SEARCH_ATTEMPTS):
            try:
                return search_table(self.chunks, query, top_n, text, self.damaged, self.layout, rescore)
            except LANCE_ERRORS as error:
                if attempt == SEARCH_ATTEMPTS - 1 or (attempt and _seen(self.directory) == self._seen):
                    raise self.damaged(error) from None
                # A writer's clean-up removed this version, or a rebuild swapped the table: the newest, sealed.
                if self.files_table is None:
                    self.chunks, self._seen = _open_served(self.directory)
                else:  # a writer's own table, at its newest commit
                    self.chunks = _open_table(_connect(self.directory), "chunks", self.directory)
        raise AssertionError("unreachable")

    def read_all(self) -> int:
        """Have LanceDB read every row of both tables, and the first answer of each index (vector, full
        text): what `--trust` asks of the helper process before it keeps a seal. Returns the rows read.
        Only bytes are read here; whether the rows are ones qwen3-rag wrote is checked as each search
        meets them."""
        rows = 0
        files, _ = _open_served(self.directory, table="files")
        try:
            for table in (self.chunks, files):
                for batch in table.search().limit(None).to_batches(READ_ALL_ROWS):
                    rows += batch.num_rows
            kinds = index_kinds(self.chunks)
            if "vector" in kinds:
                query = np.zeros(self.dim, dtype=np.float32)
                query[0] = 1.0
                value, distance = self.layout.index_query(query)
                self.chunks.search(value, vector_column_name="vector").distance_type(distance).limit(1).to_arrow()
            if "text" in kinds:
                self.chunks.search("index", query_type="fts", fts_columns="text").limit(1).to_arrow()
        except LANCE_ERRORS as error:
            raise self.damaged(error) from None
        return rows

    def vectors_by_chunk(self) -> dict[tuple[str, int, int, str], NDArray[np.float32]]:
        """Every chunk's vector keyed by (path, start_line, end_line, text): for checks and exports
        (a quantized index's are its int8 vectors, scaled back)."""
        table = self.chunks.to_arrow()
        vectors = self.layout.stored_vectors(table, self.dim)
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


def _open_served(directory: Path, version: int | None = None, table: str = "chunks") -> tuple[Any, Seen]:
    """The table at its newest sealed version (or `version`), opened in LanceDB only once seal.check_served
    has checked it and the files that version names; and `_seen(directory)` as it was then.

    What was checked must be what LanceDB opened, and a rebuild swaps the table folders in and reseals
    while readers open them. So an open during which the table folder changed is done again, and so is a
    failed open during which the seal or the folder changed, or while the folder is missing (where the file
    system has no atomic exchange, a rebuild renames it aside for a moment): for up to `OPEN_SECONDS`.
    """
    folder = 0 if table == "chunks" else 2
    deadline = time.monotonic() + OPEN_SECONDS
    while True:
        before = _seen(directory)
        try:
            served = check_served(directory, SEALED_TABLES, f"{table}.lance", version)
            opened = _open_table(_connect(directory), table, directory, served)
        except LocalIndexError:
            after = _seen(directory)
            if time.monotonic() > deadline or (after == before and after[folder] is not None):
                raise
        else:
            after = _seen(directory)
            if after[folder] == before[folder] and after[folder] is not None:
                return opened, after
            if time.monotonic() > deadline:
                raise LocalIndexError(
                    f"the index at {quoted(directory)} kept changing while it was opened (rebuilt again and "
                    "again?); search again"
                )
        time.sleep(RETRY_SECONDS)


Seen = tuple[tuple[int, int] | None, ...]


def _seen(directory: Path) -> Seen:
    """What changes when a rebuild swaps the tables in or a writer reseals: the identity of the chunks
    table folder, of the seal and of the files table folder (None for a missing one)."""
    found: list[tuple[int, int] | None] = []
    for name in ("chunks.lance", SEAL, "files.lance"):
        try:
            info = os.lstat(directory / name)
        except FileNotFoundError:
            found.append(None)
        else:
            found.append((info.st_ino, info.st_ctime_ns))
    return tuple(found)


def _swap_in(staging: Path, target: Path) -> None:
    """Put the rebuilt tables in `staging` in place of `target`'s. The seal covers both sets while they
    swap (with the files each names: the new ones' records come from the rebuild's own seal); chunks go
    last, and searches read only chunks, so each search sees the old or the new index."""
    old, new = current(target, SEALED_TABLES), current(staging, SEALED_TABLES)
    try:
        write_seal(target, old, new, writing=True)
    except LocalIndexError:  # the old tables are damaged (the rebuild's reason): only the new ones are sealed
        write_seal(target, new, writing=True)
    for table in ("files.lance", "chunks.lance"):
        if (target / table).exists():
            exchange(staging / table, target / table)
        else:
            os.rename(staging / table, target / table)
    write_seal(target, current(target, SEALED_TABLES), writing=False)
    shutil.rmtree(staging)  # the old tables; a search still reading them reopens the new ones


def damaged_error(directory: Path, problem: object) -> LocalIndexError:
    return LocalIndexError(f"the index at {quoted(directory)} is damaged ({_first_line(problem)}); {rebuild_hint()}")


def _connect(directory: Path) -> Any:
    # An absolute path: a relative name such as "s3://x" must never be read as a remote URI.
    return lancedb.connect(str(directory.absolute()))


def _open_table(db: Any, name: str, directory: Path, version: int | None = None) -> Any:
    try:
        return db.open_table(name) if version is None else db.open_table(name, version=version)
    except LANCE_ERRORS as error:
        raise damaged_error(directory, f"{name} table: {_first_line(error)}") from None


def _has_versions(table_folder: Path) -> bool:
    versions = table_folder / "_versions"
    return versions.is_dir() and any(name.endswith(".manifest") for name in os.listdir(versions))


def _id_filter(ids: Iterable[int]) -> str:
    return f"file_id IN ({', '.join(str(int(i)) for i in sorted(ids))})"


def _chunk_rows(updates: Sequence[FileUpdate], schema: pa.Schema, names: list[str]) -> pa.Table:
    ids, file_ids, texts, metadata = [], [], [], []
    for update in updates:
        path = update.record.path
        for number, chunk in enumerate(update.chunks):
            ids.append(f"{path}#{number}")
            file_ids.append(file_id(path))
            texts.append(chunk.text)
            place = {"path": path, "chunk": number, "start_line": chunk.start_line, "end_line": chunk.end_line}
            if update.record.document:
                place["document"] = True
            metadata.append(json.dumps(place, ensure_ascii=False))
    stored = [update.vectors.select(names) for update in updates]
    vectors = pa.concat_tables(stored) if stored else schema.empty_table().select(names)
    columns: dict[str, Any] = {"id": ids, "file_id": file_ids, "text": texts}
    columns["text_hash"] = [text_hash(text) for text in texts]
    columns.update({name: vectors.column(name).combine_chunks() for name in names})
    return pa.table({**columns, "metadata": metadata}, schema=schema)


def _first_line(problem: object) -> str:
    lines = str(problem).strip().splitlines()
    return escaped(lines[0][:300]) if lines else type(problem).__name__
