"""Only indexes this account wrote are opened: a seal (HMAC under a per-user key) over every manifest,
checked before LanceDB reads anything. Copies from elsewhere need an explicit --trust."""

from __future__ import annotations

import json
import os
import shutil

import lancedb
import pyarrow as pa
import pytest
from index_helpers import PRIVATE, build, index, last_error, make_folder, newest_manifest, search_json

from qwen3_rag.cli import main
from qwen3_rag.errors import LocalIndexError
from qwen3_rag.local_index import IndexStore
from qwen3_rag.local_index.account import KEY_VARIABLE, account_key
from qwen3_rag.local_index.seal import manifest_version


def test_the_key_is_private_and_made_once(own_key):
    first = account_key()
    assert account_key() == first and len(first) == 32
    assert own_key.stat().st_mode & 0o777 == 0o600
    own_key.chmod(0o644)
    with pytest.raises(LocalIndexError, match="not a private file of this account"):
        account_key()


def test_an_index_of_another_account_is_refused_until_trusted(tmp_path, tiny_models, own_key, monkeypatch, capsys):
    monkeypatch.setenv(KEY_VARIABLE, str(tmp_path / "keys" / "theirs.key"))
    theirs = build(tmp_path, "theirs", tiny_models.embedding)
    monkeypatch.setenv(KEY_VARIABLE, str(own_key))
    assert search_json(theirs) == 1
    error = last_error(capsys)
    assert "was not written by this account" in error and "--trust" in error
    assert index(make_folder(tmp_path / "more"), theirs, tiny_models.embedding) == 1  # nor written to
    assert main(["index", "--index", str(theirs), "--trust"]) == 0
    assert search_json(theirs) == 1  # trusted, it is read; the model it names is never run: name it
    assert "name the index's model with --embedding-model" in last_error(capsys)
    assert search_json(theirs, "--embedding-model", tiny_models.embedding) == 0


def test_a_moved_index_keeps_working(tmp_path, tiny_models, own_key):
    built = build(tmp_path, "idx", tiny_models.embedding)
    shutil.move(built, tmp_path / "elsewhere")
    assert search_json(tmp_path / "elsewhere") == 0


def test_a_manifest_planted_from_another_index_is_refused(tmp_path, tiny_models, own_key, capsys):
    """A shallow clone: a newer manifest copied in from another index (of this same account) would make
    LanceDB read that index's files; it is not in this index's seal."""
    mine = build(tmp_path, "mine", tiny_models.embedding)
    other = build(tmp_path, "other", tiny_models.embedding, {"plans.txt": PRIVATE})
    planted = newest_manifest(mine / "chunks.lance")
    newer = manifest_version(planted.name) + 5
    shutil.copy(newest_manifest(other / "chunks.lance"), planted.with_name(f"{2**64 - 1 - newer}.manifest"))
    assert search_json(mine) == 1
    out, err = capsys.readouterr()
    assert PRIVATE not in out + err and "is not one this account sealed" in err


def test_a_changed_manifest_or_seal_is_refused(tmp_path, tiny_models, own_key, capsys):
    mine = build(tmp_path, "mine", tiny_models.embedding)
    manifest = newest_manifest(mine / "files.lance")
    original = manifest.read_bytes()
    manifest.write_bytes(original + b"\0")
    with pytest.raises(LocalIndexError, match="is not one this account sealed"):
        IndexStore.open(mine)
    manifest.write_bytes(original)
    IndexStore.open(mine)  # back as sealed
    seal = mine / "qwen3-rag.seal"
    document = json.loads(seal.read_text())
    document["seal"]["writing"] = True  # a forger cannot recompute the MAC
    seal.write_text(json.dumps(document))
    with pytest.raises(LocalIndexError, match="sealed by another account or changed since"):
        IndexStore.open(mine)


def test_commits_of_a_killed_writer_are_rolled_back_by_the_next_writer(tmp_path, tiny_models, own_key):
    mine = build(tmp_path, "mine", tiny_models.embedding)
    settings = IndexStore.recorded_settings(mine)
    store = IndexStore.create_or_open(mine, settings)
    # A commit the writer made but could not seal before it was killed:
    table = lancedb.connect(str(mine)).open_table("files")
    table.add(
        pa.table(
            {"file_id": [7], "path": ["x"], "sha256": ["0"], "size": [1], "mtime_ns": [1], "document": [False]},
            schema=table.schema,
        )
    )
    IndexStore.open(mine)  # while the writer holds the lock, its commit in flight is accepted
    store._lock.release()  # killed: the lock goes with the process, the seal still says "writing"
    store._lock = None
    with pytest.raises(LocalIndexError, match="an indexing run that was interrupted; update it again"):
        IndexStore.open(mine)  # readers leave it to the next writer
    with IndexStore.create_or_open(mine, settings) as writer:  # which rolls the unsealed commit back
        assert "x" not in writer.files()
    IndexStore.open(mine)


def test_a_folder_without_a_seal_but_with_tables_is_refused(tmp_path, tiny_models, own_key):
    mine = build(tmp_path, "mine", tiny_models.embedding)
    os.unlink(mine / "qwen3-rag.seal")
    with pytest.raises(LocalIndexError, match="has no seal of this account"):
        IndexStore.recorded_settings(mine)
