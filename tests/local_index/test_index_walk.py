"""The walk under attack: folders swapped for links between the walk and the read, and folders
nested deeper than any real tree. Nothing outside the roots is read; no depth stops a run."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from index_helpers import index, indexed_paths, make_folder

from qwen3_rag.local_index import IndexStore, Walk, read_file
from qwen3_rag.local_index.walk import MAX_DEPTH, TOO_DEEP, UNREADABLE

SECRET = "the password is hunter2"


def nested(root: Path, depth: int) -> Path:
    """`root` / d / d / ... (`depth` folders); returns the deepest."""
    path = root
    for _ in range(depth):
        path = path / "d"
        path.mkdir()
    return path


def swap_for_link(folder: Path, target: Path) -> None:
    """Replace `folder` by a symbolic link to `target` (the attacker's move between walk and read)."""
    folder.rename(folder.with_name(folder.name + ".moved"))
    os.symlink(target, folder)


def test_a_folder_swapped_for_a_link_after_the_walk_is_not_read(tmp_path):
    root = make_folder(tmp_path / "docs")
    make_folder(root / "sub", {"notes.txt": "harmless"})
    (tmp_path / "outside" / "sub").mkdir(parents=True)
    (tmp_path / "outside" / "sub" / "notes.txt").write_text(SECRET)
    walk = Walk([root])
    paths = list(walk.files())
    target = root / "sub" / "notes.txt"
    assert target in paths
    swap_for_link(root / "sub", tmp_path / "outside" / "sub")
    assert target.read_text() == SECRET  # by its path, the file now is the outside one
    for follow in (False, True):
        content = read_file(target, follow_symlinks=follow, roots=[root])
        assert content.skipped == UNREADABLE and content.sections == []


def test_a_link_inside_the_roots_is_still_read_when_following(tmp_path):
    root = make_folder(tmp_path / "docs")
    make_folder(root / "real", {"notes.txt": "inside text"})
    os.symlink(root / "real", root / "alias")
    content = read_file(root / "alias" / "notes.txt", follow_symlinks=True, roots=[root])
    assert content.skipped is None and content.sections[0].text == "inside text"
    assert read_file(root / "alias" / "notes.txt", roots=[root]).skipped == UNREADABLE  # not following: refused


def test_racing_swaps_never_get_an_outside_file_indexed(tmp_path, tiny_models):
    root = make_folder(tmp_path / "docs")
    sub = make_folder(root / "sub", {f"note{i}.txt": f"harmless note {i}" for i in range(8)})
    outside = make_folder(tmp_path / "outside", {f"note{i}.txt": SECRET for i in range(8)})
    stop = threading.Event()

    def flip() -> None:  # swap the parent folder for a link and back, as fast as it can, for the whole run
        moved = sub.with_name("sub.moved")
        while not stop.is_set():
            sub.rename(moved)
            os.symlink(outside, sub)
            os.unlink(sub)
            moved.rename(sub)

    racer = threading.Thread(target=flip, daemon=True)
    racer.start()
    try:
        for trial in range(5):
            assert index(root, tmp_path / f"idx{trial}", tiny_models.embedding) == 0
            with IndexStore.open(tmp_path / f"idx{trial}") as store:
                assert not any(SECRET in text for *_, text in store.vectors_by_chunk())
    finally:
        stop.set()
        racer.join()


def test_a_folder_500_deep_is_skipped_and_counted_and_the_rest_indexed(tmp_path, tiny_models, capsys):
    root = make_folder(tmp_path / "docs")
    (nested(root, 500) / "deep.txt").write_text("found at the bottom")
    (root / "d" / "d" / "shallow.txt").write_text("near the top")
    walk = Walk([root])
    files = list(walk.files())
    assert root / "d" / "d" / "shallow.txt" in files and not any(p.name == "deep.txt" for p in files)
    assert walk.skipped == {TOO_DEEP: 1}
    limited = Walk([root], max_depth=1)  # root/d is walked, root/d/d is not
    assert [p.name for p in limited.files()] == ["guide.md", "notes.txt"] and limited.skipped == {TOO_DEEP: 1}

    assert index(root, tmp_path / "idx", tiny_models.embedding) == 0
    assert str(root / "d" / "d" / "shallow.txt") in indexed_paths(tmp_path / "idx")
    assert "1 skipped (folder nested too deep)" in capsys.readouterr().err
    assert MAX_DEPTH < 500
