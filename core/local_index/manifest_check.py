"""Read a Lance manifest in Python and check that everything it names lies inside its own table.

`qwen3-rag index --trust` seals an index this account did not write, after which LanceDB reads it.
LanceDB follows whatever a manifest says: base paths elsewhere (multi-base datasets), data-file
paths with `..` or a scheme, external row-id files, an index stored under another base, or a
fragment list large enough to stall it. So before sealing, each manifest is decoded here (a
protobuf reader of a few lines, never LanceDB) and accepted only when every file it names is a
plain name in its own table folder, present there as a regular file, each data file is named by one
fragment only (named by three, each of its rows would be served three times), and the counts are
bounded: a manifest over `MAX_MANIFEST_BYTES` is refused by its size, unread. Writers decode their own
manifests here too, to seal the files each names (seal.py).

Layout of a manifest file (Lance's `table.proto` and `io/manifest.rs`): the protobuf messages, each
preceded by its length as u32 LE, then the manifest's position as i64 LE, two u16 versions and
the magic "LANC". The index section sits at the position the manifest records in field 6.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import struct
from collections.abc import Iterator, Mapping
from pathlib import Path

from ..display import quoted
from ..errors import LocalIndexError

MAGIC = b"LANC"
MAX_FRAGMENTS = 100_000  # qwen3-rag compacts as it writes; a 10M-chunk index has a few thousand
# A manifest holding MAX_FRAGMENTS fragments of qwen3-rag's shape (one data file, a deletion file) is
# 10.5 MiB and decodes here in about 1 s; anything larger is refused by its size, before it is read.
MAX_MANIFEST_BYTES = 16 * 2**20
# Entries of one protobuf message: a manifest's are its fragments and schema fields; more is refused at
# once, so a manifest of millions of tiny fields costs no more than one of real fragments.
MAX_FIELDS = 2 * MAX_FRAGMENTS + 1024
MAX_FILES_PER_FRAGMENT = 64
MAX_INDICES = 64
DATA_FILE = re.compile(r"[A-Za-z0-9_-]{1,200}\.lance\Z")
TRANSACTION_FILE = re.compile(r"[A-Za-z0-9_.-]{1,200}\.txn\Z")
DELETION_EXTENSIONS = {0: "arrow", 1: "bin"}
# The index kinds search.py builds (vector, full-text, B-tree); others name files of their own.
INDEX_KINDS = frozenset(
    {"lance.index.pb.VectorIndexDetails", "lance.table.InvertedIndexDetails", "lance.table.BTreeIndexDetails"}
)

# Field numbers of table.proto that name a file elsewhere; any of them makes a manifest refused.
MANIFEST_BASE_PATHS = 18
FRAGMENT_EXTERNAL_FILES = (6, 8, 10)  # external row ids, last-updated and created-at versions
BASE_ID = 7  # on DataFile and DeletionFile
INDEX_BASE_ID = 9


class ManifestRefused(ValueError):
    """What a manifest names that qwen3-rag would not have written."""


Fields = dict[int, list[int | bytes]]


def varint(data: bytes, at: int) -> tuple[int, int]:
    """A protobuf varint at `at`, and where the next field starts; ManifestRefused when truncated."""
    value = shift = 0
    while True:
        if at >= len(data) or shift > 63:
            raise ManifestRefused("truncated or overlong varint")
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, at
        shift += 7


def fields(data: bytes) -> Fields:
    """One protobuf message's fields by number: ints for varints and fixed widths, bytes for the rest."""
    found: Fields = {}
    at = count = 0
    while at < len(data):
        key, at = varint(data, at)
        number, wire = key >> 3, key & 7
        value: int | bytes
        if wire == 0:
            value, at = varint(data, at)
        elif wire in (1, 5):
            width = 8 if wire == 1 else 4
            if at + width > len(data):
                raise ManifestRefused("truncated fixed-width field")
            value, at = int.from_bytes(data[at : at + width], "little"), at + width
        elif wire == 2:
            size, at = varint(data, at)
            if at + size > len(data):
                raise ManifestRefused("a field runs past its message")
            value, at = data[at : at + size], at + size
        else:  # groups are not used by Lance
            raise ManifestRefused(f"unexpected protobuf wire type {wire}")
        entries = found.setdefault(number, [])
        entries.append(value)
        count += 1
        if count > MAX_FIELDS:
            raise ManifestRefused(f"a message of more than {MAX_FIELDS} fields")
    return found


def _one(found: Fields, number: int, default: int | bytes) -> int | bytes:
    values = found.get(number)
    return values[-1] if values else default  # protobuf: the last occurrence wins


def _messages(found: Fields, number: int) -> Iterator[bytes]:
    for value in found.get(number, []):
        if not isinstance(value, bytes):
            raise ManifestRefused(f"field {number} is not a message")
        yield value


def _message_at(data: bytes, position: int, end: int) -> bytes:
    if not 0 <= position <= end - 4:
        raise ManifestRefused("a section position lies outside the file")
    (size,) = struct.unpack_from("<I", data, position)
    if position + 4 + size > end:
        raise ManifestRefused("a section runs past the end of the file")
    return data[position + 4 : position + 4 + size]


def _int(value: int | bytes) -> int:
    if not isinstance(value, int):
        raise ManifestRefused("a number field holds bytes")
    return value


def _bytes(value: int | bytes, what: str) -> bytes:
    if not isinstance(value, bytes):
        raise ManifestRefused(f"{what} is not a message")
    return value


def _text(value: int | bytes, what: str) -> str:
    try:
        return _bytes(value, what).decode("utf-8")
    except UnicodeDecodeError:
        raise ManifestRefused(f"{what} is not UTF-8") from None


def named_files(data: bytes) -> list[str]:
    """Every file, relative to the table folder, that a manifest makes LanceDB read.

    Raises `ManifestRefused` when the manifest names anything outside (a base path, a base id, an
    external file, a path with a folder or a scheme) or holds more than qwen3-rag writes.
    """
    if len(data) < 20 or data[-4:] != MAGIC:
        raise ManifestRefused("not a Lance manifest (no LANC footer)")
    end = len(data) - 16
    (position,) = struct.unpack_from("<q", data, end)
    manifest = fields(_message_at(data, position, end))
    if manifest.get(MANIFEST_BASE_PATHS):
        raise ManifestRefused("it names base paths outside its folder")
    fragments = manifest.get(2, [])
    if len(fragments) > MAX_FRAGMENTS:
        raise ManifestRefused(f"{len(fragments)} fragments (qwen3-rag writes at most {MAX_FRAGMENTS})")
    files: list[str] = []
    data_files: set[str] = set()
    for fragment_bytes in _messages(manifest, 2):
        fragment = fields(fragment_bytes)
        if any(fragment.get(number) for number in FRAGMENT_EXTERNAL_FILES):
            raise ManifestRefused("a fragment keeps its row ids in an external file")
        fragment_files = list(_messages(fragment, 2))
        if len(fragment_files) > MAX_FILES_PER_FRAGMENT:
            raise ManifestRefused(f"a fragment has {len(fragment_files)} data files")
        for data_file_bytes in fragment_files:
            data_file = fields(data_file_bytes)
            path = _text(_one(data_file, 1, b""), "a data-file path")
            if BASE_ID in data_file or not DATA_FILE.match(path):
                raise ManifestRefused(f"a data file is named {path!r}, not a plain file of its table")
            if path in data_files:  # Lance writes each data file once; named twice, its rows are served twice
                raise ManifestRefused(f"the data file {path!r} is named by two fragments")
            data_files.add(path)
            files.append(f"data/{path}")
        for deletion_bytes in _messages(fragment, 3):
            deletion = fields(deletion_bytes)
            if BASE_ID in deletion:
                raise ManifestRefused("a deletion file lies under another base")
            extension = DELETION_EXTENSIONS.get(_int(_one(deletion, 1, 0)))
            if extension is None:
                raise ManifestRefused("unknown deletion-file type")
            files.append(
                f"_deletions/{_int(_one(fragment, 1, 0))}-{_int(_one(deletion, 2, 0))}-"
                f"{_int(_one(deletion, 3, 0))}.{extension}"
            )
    transaction = _text(_one(manifest, 12, b""), "the transaction file")
    if transaction:
        if not TRANSACTION_FILE.match(transaction):
            raise ManifestRefused(f"its transaction file is named {transaction!r}")
        files.append(f"_transactions/{transaction}")
    if 6 in manifest:
        section = fields(_message_at(data, _int(_one(manifest, 6, 0)), end))
        indices = list(_messages(section, 1))
        if len(indices) > MAX_INDICES:
            raise ManifestRefused(f"{len(indices)} indices")
        for index_bytes in indices:
            index = fields(index_bytes)
            if INDEX_BASE_ID in index:
                raise ManifestRefused("an index lies under another base")
            details = fields(_bytes(_one(index, 6, b""), "an index's details"))
            index_kind = _text(_one(details, 1, b""), "an index's type").rpartition("/")[2]
            if index_kind not in INDEX_KINDS:  # others (fragment reuse, MemWAL) name files of their own
                raise ManifestRefused(f"an index of a kind qwen3-rag does not create ({index_kind!r})")
            raw = _one(fields(_bytes(_one(index, 1, b""), "an index id")), 1, b"")
            if not isinstance(raw, bytes) or len(raw) != 16:
                raise ManifestRefused("an index has no valid id")
            hexed = raw.hex()
            files.append(f"_indices/{hexed[:8]}-{hexed[8:12]}-{hexed[12:16]}-{hexed[16:20]}-{hexed[20:]}")
    return files


def check_table(table_folder: Path, manifests: Mapping[str, str]) -> None:
    """Refuse (`LocalIndexError`) a table whose manifests name anything not inside it as a plain file.

    `manifests` maps each manifest's name to the SHA-256 about to be sealed: the bytes checked here
    must be those bytes, so a manifest swapped between the check and the seal is refused.
    """
    for name, digest in sorted(manifests.items()):
        path = table_folder / "_versions" / name
        try:
            with open(path, "rb", opener=_no_follow) as handle:
                size = os.fstat(handle.fileno()).st_size
                if size > MAX_MANIFEST_BYTES:  # refused by its size, before a byte is read
                    raise ManifestRefused(
                        f"it is {size / 2**20:.1f} MiB (qwen3-rag's stay under {MAX_MANIFEST_BYTES >> 20} MiB)"
                    )
                data = handle.read(MAX_MANIFEST_BYTES + 1)
            if hashlib.sha256(data).hexdigest() != digest:
                raise ManifestRefused("it changed while it was being checked")
            for relative in named_files(data):
                info = os.lstat(table_folder / relative)
                folder = relative.startswith("_indices/")
                if not (stat.S_ISDIR if folder else stat.S_ISREG)(info.st_mode):
                    raise ManifestRefused(f"{relative!r} is not a plain {'folder' if folder else 'file'}")
        except FileNotFoundError as error:
            raise LocalIndexError(
                f"{quoted(path)} names a file its table lacks ({quoted(error.filename)}); it cannot be trusted"
            ) from None
        except ManifestRefused as error:
            raise LocalIndexError(f"{quoted(path)} cannot be trusted: {error}") from None


def _no_follow(path: str, flags: int) -> int:
    return os.open(path, flags | os.O_NOFOLLOW)
