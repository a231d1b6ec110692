import os

import numpy as np
import pytest

from featx.extract import SourceError, open_source


def _touch_image(path):
    from PIL import Image

    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.new("RGB", (8, 8), (1, 2, 3)).save(path)


def test_class_folders_with_nested_files(tmp_path):
    for rel in ("cats/a.jpg", "cats/sub/b.png", "dogs/c.JPEG", "dogs/notes.txt"):
        if rel.endswith(".txt"):
            os.makedirs(tmp_path / "dogs", exist_ok=True)
            (tmp_path / rel).write_text("x")
        else:
            _touch_image(str(tmp_path / rel))
    table = open_source(str(tmp_path))
    assert table.kind == "folder" and table.class_names == ["cats", "dogs"]
    assert table.paths == ["cats/a.jpg", os.path.join("cats", "sub", "b.png"), "dogs/c.JPEG"]
    assert table.labels.tolist() == [0, 0, 1]


def test_split_folders_take_classes_one_level_down(tmp_path):
    for rel in ("train/ants/1.jpg", "train/bees/2.jpg", "val/ants/3.jpg"):
        _touch_image(str(tmp_path / rel))
    table = open_source(str(tmp_path))
    assert table.class_names == ["ants", "bees"]
    assert table.splits == ["train", "train", "val"]


def test_unlabelled_folder(tmp_path):
    _touch_image(str(tmp_path / "x.png"))
    _touch_image(str(tmp_path / "y.gif"))
    table = open_source(str(tmp_path))
    assert table.kind == "unlabelled" and table.class_names == [] and (table.labels == -1).all()


def test_manifest_relative_paths_bom_crlf_groups(tmp_path):
    _touch_image(str(tmp_path / "imgs" / "a.png"))
    _touch_image(str(tmp_path / "imgs" / "b.png"))
    (tmp_path / "m.csv").write_bytes("\ufeffpath,label,group\r\nimgs/a.png,yes,s1\r\nimgs/b.png,no,s2\r\n".encode("utf-8"))
    table = open_source(str(tmp_path / "m.csv"))
    assert table.class_names == ["no", "yes"] and table.labels.tolist() == [1, 0]
    assert table.groups == ["s1", "s2"]
    assert os.path.isfile(table.absolute(0))


@pytest.mark.parametrize(
    "content, message",
    [
        ("file,label\na.png,x\n", "no 'path' column"),
        ("path,label\n", "lists no images"),
        ("path,label\na.png,x\nb.png,\n", r"empty label \(lines 3\)"),
        ("path,label\na.png,x\n./a.png,y\n", r"same image twice \(lines 3\)"),
        ("path\n\n,\n", "without a path"),
    ],
)
def test_bad_manifests_give_one_clear_error(tmp_path, content, message):
    (tmp_path / "m.csv").write_text(content)
    with pytest.raises(SourceError, match=message):
        open_source(str(tmp_path / "m.csv"))


def test_non_utf8_manifest_and_missing_and_empty_sources(tmp_path):
    (tmp_path / "m.csv").write_bytes(b"path\n\xff\xfe.png\n")
    with pytest.raises(SourceError, match="not UTF-8"):
        open_source(str(tmp_path / "m.csv"))
    with pytest.raises(SourceError, match="does not exist"):
        open_source(str(tmp_path / "nope"))
    os.makedirs(tmp_path / "empty")
    with pytest.raises(SourceError, match="no images found"):
        open_source(str(tmp_path / "empty"))


def test_non_utf8_file_names_are_kept(tmp_path):
    name = os.fsdecode(b"caf\xe9.png")  # latin-1 byte: a surrogate escape in Python
    _touch_image(os.path.join(str(tmp_path), "c", name))
    table = open_source(str(tmp_path))
    assert os.path.isfile(table.absolute(0))
    assert np.array_equal(table.labels, [0])


def test_symlink_loops_and_aliases_list_each_image_once(tmp_path):
    """A class folder holding a link back to its parent (``a/up -> ..``) once listed the same image
    through 41 paths; a folder outside the source linked twice was listed twice."""
    root, outside = tmp_path / "src", tmp_path / "outside"
    _touch_image(str(root / "a" / "x.png"))
    _touch_image(str(root / "b" / "y.png"))
    _touch_image(str(outside / "sub" / "e.png"))
    os.symlink("..", root / "a" / "up")  # a loop back to the source's root
    os.symlink(os.path.join("..", "a"), root / "b" / "alias")  # another class, by a second path
    os.symlink(os.path.join("..", "..", "outside"), root / "a" / "ext")  # outside: followed once
    os.symlink(os.path.join("..", "..", "outside"), root / "b" / "ext")  # ... not twice
    os.symlink("..", outside / "sub" / "up")  # a loop outside the source
    with pytest.warns(UserWarning, match=r"symlinked folder a/up -> \.\.: loops back to a folder above it; not followed \(and 3 more\)"):
        table = open_source(str(root))
    assert table.paths == [os.path.join("a", "ext", "sub", "e.png"), os.path.join("a", "x.png"), os.path.join("b", "y.png")]
    assert table.labels.tolist() == [0, 0, 1]
    assert sorted(table.notes) == sorted([
        "a/up -> ..: loops back to a folder above it; not followed",
        f"b/alias -> {os.path.join('..', 'a')}: links to a folder the source lists already; not followed",
        f"b/ext -> {os.path.join('..', '..', 'outside')}: links to a folder followed already through another link; not followed",
        "a/ext/sub/up -> ..: loops back to a folder above it; not followed",
    ])
    assert len({os.path.realpath(table.absolute(i)) for i in range(len(table))}) == len(table)


def test_unlabelled_folder_with_a_loop_is_listed_once(tmp_path):
    _touch_image(str(tmp_path / "x.png"))
    os.makedirs(tmp_path / "deeper")
    os.symlink("..", tmp_path / "deeper" / "up")
    with pytest.warns(UserWarning, match="loops back"):
        table = open_source(str(tmp_path))
    assert table.kind == "unlabelled" and table.paths == ["x.png"] and len(table.notes) == 1


def test_plain_folders_give_no_notes(tmp_path, recwarn):
    _touch_image(str(tmp_path / "a" / "x.png"))
    _touch_image(str(tmp_path / "b" / "y.png"))
    assert open_source(str(tmp_path)).notes == []
    assert not [w for w in recwarn if "symlink" in str(w.message)]
