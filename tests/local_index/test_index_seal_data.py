"""The seal covers what is served (issue 33, item 4): every file the sealed manifests name, with its size,
SHA-256 and stat identity, and the newest manifest of each table. A data file changed in place, or the
newest versions deleted (a rollback), is refused; a copy is checked by digest until a writer records it.
--trust refuses a fragment list that names one data file twice and an oversized manifest, by its size."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import shutil
import struct
import time
from pathlib import Path

import pytest
from index_helpers import build, foreign_index, index, last_error, make_folder, newest_manifest, search_json
from manifest_writer import field

from qwen3_rag.cli import main
from qwen3_rag.local_index import IndexStore
from qwen3_rag.local_index.account import account_key
from qwen3_rag.local_index.manifest_check import MAX_MANIFEST_BYTES, varint
from qwen3_rag.local_index.seal import manifest_version, read_seal

SECRET = "Beijing is the capital of China."


def sealed_files(idx: Path, table: str = "chunks.lance") -> dict:
    seal = read_seal(idx)
    assert seal is not None
    return dict(seal.files[table])


def data_files(idx: Path) -> list[Path]:
    return sorted((idx / "chunks.lance" / "data").iterdir())


def test_the_seal_records_every_file_the_manifests_name(tmp_path, tiny_models, own_key):
    built = build(tmp_path, "idx", tiny_models.embedding)
    records = sealed_files(built)
    assert {f"data/{p.name}" for p in data_files(built)} <= set(records)
    assert any(name.startswith("_indices/") for name in records)  # the full-text index's files
    for relative, (size, digest, inode, mtime_ns, ctime_ns) in records.items():
        info = os.lstat(built / "chunks.lance" / relative)
        assert (size, inode, mtime_ns, ctime_ns) == (info.st_size, info.st_ino, info.st_mtime_ns, info.st_ctime_ns)
        assert digest == hashlib.sha256((built / "chunks.lance" / relative).read_bytes()).hexdigest()
    seal = read_seal(built)
    assert seal is not None and seal.newest["chunks.lance"] == [
        f"{newest_manifest(built / 'chunks.lance').name} "
        f"{hashlib.sha256(newest_manifest(built / 'chunks.lance').read_bytes()).hexdigest()}"
    ]


def test_a_data_file_changed_in_place_is_refused(tmp_path, tiny_models, own_key, capsys):
    """Same length, same mtime (set back): only the bytes differ. Before the data files were sealed, the
    changed text was printed as a result, exit 0."""
    built = build(tmp_path, "idx", tiny_models.embedding, {"notes.txt": SECRET + "\n"})
    assert search_json(built) == 0
    capsys.readouterr()
    changed = [path for path in data_files(built) if b"Beijing" in path.read_bytes()]
    assert changed, "the chunk's text is stored as it is"
    for path in changed:
        info = path.stat()
        with open(path, "r+b") as handle:
            data = handle.read()
            handle.seek(data.index(b"Beijing"))
            handle.write(b"Pekin!!")
        os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))
        assert path.stat().st_size == info.st_size
    assert search_json(built) == 1
    out, err = capsys.readouterr()
    assert out == "" and "Pekin" not in err and len(err.strip().splitlines()) == 1
    assert "does not hold the bytes that were sealed" in err and "--rebuild" in err and "--trust" in err
    assert index(tmp_path / "idx-docs", built, tiny_models.embedding) == 1  # nor written on: a writer checks too
    assert "does not hold the bytes that were sealed" in last_error(capsys)


def test_a_copy_is_checked_by_digest_and_recorded_again_by_the_next_writer(tmp_path, tiny_models, own_key, capsys):
    built = build(tmp_path, "idx", tiny_models.embedding)
    copy = tmp_path / "copy"
    shutil.copytree(built, copy)  # new inodes and ctimes: each file is hashed when opened
    assert search_json(copy) == 0
    data = data_files(copy)[0]
    assert sealed_files(copy)[f"data/{data.name}"][2] != data.stat().st_ino
    assert index(tmp_path / "idx-docs", copy, tiny_models.embedding) == 0  # a writer records the copy as it is
    assert sealed_files(copy)[f"data/{data.name}"][2] == data.stat().st_ino
    assert search_json(copy) == 0


def test_deleting_the_newest_versions_is_refused_as_a_rollback(tmp_path, tiny_models, own_key, capsys):
    """A revoked text came back: the newest manifests deleted, LanceDB served the version before them."""
    docs = make_folder(tmp_path / "docs", {"policy.txt": "The old policy: keys never expire.\n"})
    idx = tmp_path / "idx"
    assert index(docs, idx, tiny_models.embedding) == 0
    first = {p.name for p in (idx / "chunks.lance" / "_versions").glob("*.manifest")}
    (docs / "policy.txt").write_text("The new policy: keys expire after 90 days.\n")
    assert index(docs, idx, tiny_models.embedding) == 0
    capsys.readouterr()
    for manifest in (idx / "chunks.lance" / "_versions").glob("*.manifest"):
        if manifest.name not in first and manifest_version(manifest.name) > max(map(manifest_version, first)):
            manifest.unlink()
    assert search_json(idx) == 1
    out, err = capsys.readouterr()
    assert "old policy" not in out and "lacks its newest version" in err and "--trust" in err and "--rebuild" in err
    assert main(["-q", "index", "--index", str(idx), "--trust"]) == 0  # an older version, accepted on purpose
    assert search_json(idx) == 0


def test_an_index_sealed_by_the_previous_format_asks_for_trust_once(tmp_path, tiny_models, own_key, capsys):
    built = build(tmp_path, "idx", tiny_models.embedding)
    seal = read_seal(built)
    assert seal is not None
    body = {"format": 1, "tables": dict(seal.tables), "writing": False}  # what qwen3-rag sealed before issue 33
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()
    mac = hmac.new(account_key(), canonical, hashlib.sha256).hexdigest()
    (built / "qwen3-rag.seal").write_text(json.dumps({"seal": body, "mac": mac}))
    assert search_json(built) == 1
    error = last_error(capsys)
    assert "sealed by an earlier qwen3-rag" in error and f"qwen3-rag index --index '{built}' --trust" in error
    assert main(["-q", "index", "--index", str(built), "--trust"]) == 0
    assert search_json(built) == 0


def with_extra_fragment(manifest: bytes) -> bytes:
    """The manifest with its first fragment listed again under another id (the same data files)."""
    end = len(manifest) - 16
    (position,) = struct.unpack_from("<q", manifest, end)
    (size,) = struct.unpack_from("<I", manifest, position)
    body = manifest[position + 4 : position + 4 + size]
    at, fragment = 0, None
    while fragment is None:  # the manifest's first field 2 (a fragment), found by walking its fields
        key, at = varint(body, at)
        if key & 7 == 2:
            length, start = varint(body, at)
            if key >> 3 == 2:
                fragment = body[start : start + length]
            at = start + length
        else:
            _, at = varint(body, at)
    copy = field(2, fragment + field(1, 999))  # a second id field, last: protobuf keeps the last one
    body += copy
    rebuilt = manifest[:position] + struct.pack("<I", len(body)) + body
    return rebuilt + struct.pack("<q", position) + manifest[end + 8 :]


def test_trust_refuses_two_fragments_naming_one_data_file(tmp_path, tiny_models, own_key, monkeypatch, capsys):
    """Trusted before, every hit was printed once per fragment that named its file."""
    theirs = foreign_index(tmp_path, tiny_models.embedding, monkeypatch, own_key)
    manifest = newest_manifest(theirs / "chunks.lance")
    manifest.write_bytes(with_extra_fragment(manifest.read_bytes()))
    started = time.monotonic()
    assert main(["-q", "index", "--index", str(theirs), "--trust"]) == 1
    assert "is named by two fragments" in last_error(capsys) and time.monotonic() - started < 30
    assert search_json(theirs) == 1  # nothing was sealed


def test_trust_refuses_an_oversized_manifest_by_its_size(tmp_path, tiny_models, own_key, monkeypatch, capsys):
    """A real manifest padded past the bound with a field Lance does not read (it took 120 s and 1.1 GB to
    decode a 64 MiB one): refused before it is read."""
    theirs = foreign_index(tmp_path, tiny_models.embedding, monkeypatch, own_key)
    manifest = newest_manifest(theirs / "chunks.lance")
    data = manifest.read_bytes()
    end = len(data) - 16
    (position,) = struct.unpack_from("<q", data, end)
    (size,) = struct.unpack_from("<I", data, position)
    assert MAX_MANIFEST_BYTES < 17 * 2**20  # well under the 64 MiB that took 120 s
    body = data[position + 4 : position + 4 + size] + field(99, b"\0" * (17 * 2**20))
    manifest.write_bytes(data[:position] + struct.pack("<I", len(body)) + body + data[end:])
    started = time.monotonic()
    assert main(["-q", "index", "--index", str(theirs), "--trust"]) == 1
    assert f"over {MAX_MANIFEST_BYTES >> 20} MiB" in last_error(capsys) and time.monotonic() - started < 10
    assert search_json(theirs) == 1


def test_trust_reads_every_row_first_and_refuses_what_lancedb_cannot_read(
    tmp_path, tiny_models, own_key, monkeypatch, capsys
):
    """A data file whose footer claims 2**31 global buffers made LanceDB allocate 32 GiB and abort the
    process that searched it; --trust now has the limited helper read it first, and seals nothing."""
    theirs = foreign_index(tmp_path, tiny_models.embedding, monkeypatch, own_key)
    data = data_files(theirs)[0]
    raw = bytearray(data.read_bytes())
    struct.pack_into("<I", raw, len(raw) - 40 + 24, 2**31)  # the footer's count of global buffers
    data.write_bytes(bytes(raw))
    seal_before = (theirs / "qwen3-rag.seal").read_bytes()
    assert main(["-q", "index", "--index", str(theirs), "--trust"]) == 1
    error = last_error(capsys)
    assert "cannot be trusted" in error and "nothing was sealed" in error
    assert (theirs / "qwen3-rag.seal").read_bytes() == seal_before  # the other account's seal, as it was
    assert search_json(theirs) == 1
    assert "was not written by this account" in last_error(capsys)


def test_a_reader_never_serves_a_commit_that_is_not_sealed_yet(tmp_path, tiny_models, own_key):
    """While a writer holds the lock, its newest commits are in flight: readers accept them on disk but
    answer from the newest sealed version, whose files were checked."""
    built = build(tmp_path, "idx", tiny_models.embedding)
    sealed_version = IndexStore.open(built).version
    settings = IndexStore.recorded_settings(built)
    writer = IndexStore.create_or_open(built, settings)
    try:
        writer.chunks.delete("file_id > 0 OR file_id <= 0")  # a commit not sealed yet
        assert writer.chunks.version > sealed_version
        reader = IndexStore.open(built)
        assert reader.version == sealed_version and reader.chunk_count() > 0
    finally:
        writer.close()
    assert IndexStore.open(built).chunk_count() == 0  # sealed when the writer closed


@pytest.mark.parametrize("mode", [0o644, 0o666])
def test_the_lock_file_is_readable_by_its_owner_only(tmp_path, tiny_models, own_key, mode):
    """A lock needs only an open descriptor: another local user who could open a 0644 lock file could hold
    it and block the owner's writes."""
    built = build(tmp_path, "idx", tiny_models.embedding)
    lock = built / "write.lock"
    assert lock.stat().st_mode & 0o777 == 0o600
    lock.chmod(mode)  # an index written before this, or a permissive umask copy
    assert index(tmp_path / "idx-docs", built, tiny_models.embedding) == 0
    assert lock.stat().st_mode & 0o777 == 0o600
