"""`index --trust` decodes every manifest in Python before sealing: one that names a file outside its
own table (a base path, a `..` data file, an external row-id file, an index under another base, a
file the table lacks) or an absurd fragment count is refused, and nothing outside is read."""

from __future__ import annotations

import os
import shutil
import struct

import pytest
from index_helpers import PRIVATE, build, foreign_index, index, last_error, make_folder, newest_manifest, search_json
from manifest_writer import data_file, field, fragment, manifest_file

from qwen3_rag.cli import main
from qwen3_rag.local_index.manifest_check import MAX_FRAGMENTS, ManifestRefused, named_files
from qwen3_rag.local_index.seal import manifest_version


def test_the_reader_lists_exactly_the_files_a_manifest_names():
    index_section = field(
        1,
        field(1, field(1, bytes(range(16))))
        + field(3, b"vector_idx")
        + field(6, field(1, b"/lance.index.pb.VectorIndexDetails")),
    )
    prefix = struct.pack("<I", len(index_section)) + index_section
    data = manifest_file(
        fragment(data_file("abc.lance"), field(3, field(2, 4) + field(3, 9))),
        field(12, b"3-x.txn"),
        field(6, 0),
        prefix=prefix,
    )
    assert named_files(data) == [
        "data/abc.lance",
        "_deletions/0-4-9.arrow",
        "_transactions/3-x.txn",
        "_indices/00010203-0405-0607-0809-0a0b0c0d0e0f",
    ]


@pytest.mark.parametrize(
    "hostile, reason",
    [
        (manifest_file(fragment(data_file("../../outside.lance"))), "not a plain file of its table"),
        (manifest_file(fragment(data_file("/etc/passwd"))), "not a plain file of its table"),
        (manifest_file(fragment(data_file("s3://bucket/x.lance"))), "not a plain file of its table"),
        (manifest_file(fragment(data_file("abc.lance", field(7, 1)))), "not a plain file of its table"),
        (
            manifest_file(fragment(data_file("abc.lance")), field(18, field(1, 1) + field(4, b"/home/x/idx"))),
            "base paths",
        ),
        (manifest_file(fragment(field(6, field(1, b"/tmp/fifo")))), "external file"),
        (manifest_file(fragment(field(3, field(2, 1) + field(7, 1)))), "another base"),
        (manifest_file(field(12, b"../../x.txn")), "transaction file"),
        (manifest_file(*[fragment()] * (MAX_FRAGMENTS + 1)), "fragments"),
        (manifest_file(fragment(data_file("abc.lance")))[:-4] + b"XXXX", "no LANC footer"),
        (manifest_file(field(6, 10**6)), "outside the file"),
        (b"\xff" * 32 + struct.pack("<qHH", 0, 0, 3) + b"LANC", "section runs past"),
    ],
)
def test_hostile_manifests_are_refused(hostile, reason):
    with pytest.raises(ManifestRefused, match=reason):
        named_files(hostile)


def test_an_index_with_another_kind_or_base_is_refused():
    for details, extra in (
        (b"/lance.table.FragmentReuseIndexDetails", b""),
        (b"/lance.index.pb.VectorIndexDetails", field(9, 1)),
    ):
        section = field(1, field(1, field(1, bytes(16))) + field(6, field(1, details)) + extra)
        data = manifest_file(field(6, 0), prefix=struct.pack("<I", len(section)) + section)
        with pytest.raises(ManifestRefused, match="kind qwen3-rag does not create|another base"):
            named_files(data)


def test_a_real_index_names_only_files_it_has(tmp_path, tiny_models, own_key):
    built = build(tmp_path, "idx", tiny_models.embedding, {f"n{i}.txt": f"note {i}\n" for i in range(3)})
    (tmp_path / "idx-docs" / "n0.txt").write_text("changed\n")  # a second commit, with deletions
    assert index(tmp_path / "idx-docs", built, tiny_models.embedding) == 0
    for table in ("chunks.lance", "files.lance"):
        for manifest in (built / table / "_versions").glob("*.manifest"):
            names = named_files(manifest.read_bytes())
            assert names and all((built / table / name).exists() for name in names)


def test_trust_refuses_a_manifest_pointing_into_another_index(tmp_path, tiny_models, own_key, monkeypatch, capsys):
    """A shallow clone planted in a copied index: its data files live in the other index, so the table
    lacks them; --trust refuses, seals nothing, and search still refuses the index."""
    private = build(tmp_path, "private", tiny_models.embedding, {"plans.txt": PRIVATE})
    theirs = foreign_index(tmp_path, tiny_models.embedding, monkeypatch, own_key)
    planted = newest_manifest(theirs / "chunks.lance")
    newer = manifest_version(planted.name) + 5
    shutil.copy(newest_manifest(private / "chunks.lance"), planted.with_name(f"{2**64 - 1 - newer}.manifest"))
    assert main(["index", "--index", str(theirs), "--trust"]) == 1
    error = last_error(capsys)
    assert "names a file its table lacks" in error and "cannot be trusted" in error
    assert search_json(theirs) == 1
    out, err = capsys.readouterr()
    assert PRIVATE not in out + err


def test_trust_refuses_a_manifest_whose_data_file_is_outside_and_never_opens_it(
    tmp_path, tiny_models, own_key, monkeypatch, capsys
):
    theirs = foreign_index(tmp_path, tiny_models.embedding, monkeypatch, own_key)
    fifo = tmp_path / "trap.lance"
    os.mkfifo(fifo)  # opening it would block: a read of it hangs the test
    planted = newest_manifest(theirs / "chunks.lance")
    relative = os.path.relpath(fifo, theirs / "chunks.lance" / "data")
    planted.write_bytes(manifest_file(fragment(data_file(relative))))
    assert main(["index", "--index", str(theirs), "--trust"]) == 1
    assert "not a plain file of its table" in last_error(capsys)


def test_trust_accepts_a_copied_index_whose_manifests_check_out(tmp_path, tiny_models, own_key, monkeypatch):
    theirs = foreign_index(tmp_path, tiny_models.embedding, monkeypatch, own_key)
    shutil.copytree(theirs, tmp_path / "copy")
    assert search_json(tmp_path / "copy") == 1
    assert main(["index", "--index", str(tmp_path / "copy"), "--trust"]) == 0
    assert search_json(tmp_path / "copy") == 1  # the model it names is never run: named, it searches
    assert search_json(tmp_path / "copy", "--embedding-model", tiny_models.embedding) == 0
    assert index(make_folder(tmp_path / "more"), tmp_path / "copy", tiny_models.embedding) == 0
