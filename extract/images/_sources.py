"""Image sources: a folder of class sub-folders, a CSV manifest, or a folder without classes.

A source becomes a :class:`SourceTable`: one row per image with its path, label, group and split,
in a stable order (sorted by path), plus the class names. Nothing is decoded here.
"""

from __future__ import annotations

import csv
import os
import warnings
from dataclasses import dataclass, field

import numpy as np

from featx.extract._errors import SourceError


class SourceWarning(UserWarning):
    """A source was listed with something left out (a symlinked folder not followed)."""

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp")
SPLIT_NAMES = ("train", "training", "val", "valid", "validation", "test", "testing")


@dataclass
class SourceTable:
    """The images of a source. ``paths`` are as stored in the cache (relative to ``root``);
    ``labels`` index ``class_names`` (-1: unlabelled)."""

    root: str
    kind: str  # 'folder', 'manifest' or 'unlabelled'
    paths: list[str]
    labels: np.ndarray
    class_names: list[str]
    groups: list[str] = field(default_factory=list)
    splits: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # symlinked folders not followed, one line each

    def __len__(self) -> int:
        return len(self.paths)

    def absolute(self, i: int) -> str:
        return os.path.join(self.root, self.paths[i])

    def describe(self) -> dict:
        return {"root": self.root, "kind": self.kind, "rows": len(self.paths), "classes": self.class_names}


def open_source(source: str) -> SourceTable:
    """Read a folder or a CSV manifest into a :class:`SourceTable`."""
    source = os.fspath(source)
    if not os.path.exists(source):
        raise SourceError(f"source {source!r} does not exist; pass a folder of images or a CSV manifest")
    if os.path.isfile(source):
        if not source.lower().endswith((".csv", ".txt")):
            raise SourceError(f"source {source!r} is a file but not a CSV manifest; pass a folder or a .csv with a 'path' column")
        return _read_manifest(source)
    return _read_folder(source)


def _is_image(name: str) -> bool:
    return name.lower().endswith(IMAGE_EXTENSIONS) and not name.startswith(".")


class _Links:
    """What a folder walk has listed, by real path: each symlinked folder is followed at most
    once, never into a folder of the source itself (a loop such as ``a/up -> ..``, or an alias of
    folders listed by their own paths), and no file is listed twice through links."""

    def __init__(self, root: str):
        self.root = os.path.realpath(root)
        self.followed: set[str] = set()
        self.files: set[str] = set()
        self.notes: list[str] = []

    def _note(self, path: str, why: str) -> None:
        self.notes.append(f"{os.path.relpath(path, self.root)} -> {os.readlink(path)}: {why}; not followed")

    def follow(self, parent: str, path: str) -> bool:
        if not os.path.islink(path):
            return True
        real = os.path.realpath(path)
        if _within(os.path.realpath(parent), real):
            self._note(path, "loops back to a folder above it")
        elif _within(real, self.root):
            self._note(path, "links to a folder the source lists already")
        elif real in self.followed:
            self._note(path, "links to a folder followed already through another link")
        else:
            self.followed.add(real)
            return True
        return False

    def new_file(self, path: str) -> bool:
        real = os.path.realpath(path)
        if real in self.files:
            return False
        self.files.add(real)
        return True


def _within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _walk_images(top: str, links: _Links) -> list[str]:
    found = []
    for dirpath, dirnames, filenames in os.walk(top, followlinks=True):
        dirnames[:] = [d for d in sorted(dirnames) if not d.startswith(".") and links.follow(dirpath, os.path.join(dirpath, d))]
        found.extend(p for p in (os.path.join(dirpath, f) for f in sorted(filenames) if _is_image(f)) if links.new_file(p))
    return sorted(found)


def _report(root: str, links: _Links, table: SourceTable) -> SourceTable:
    table.notes = list(links.notes)
    if links.notes:
        more = f" (and {len(links.notes) - 1} more)" if len(links.notes) > 1 else ""
        warnings.warn(f"source {root!r}: symlinked folder {links.notes[0]}{more}", SourceWarning, stacklevel=4)
    return table


def _read_folder(root: str) -> SourceTable:
    root = os.path.abspath(root)
    subdirs = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)) and not d.startswith("."))
    splits = subdirs if subdirs and all(d.lower() in SPLIT_NAMES for d in subdirs) else [""]
    rows: list[tuple[str, str, str]] = []  # (relative path, class, split)
    links = _Links(root)
    for split in splits:
        base = os.path.join(root, split) if split else root
        class_dirs = sorted(d for d in os.listdir(base) if os.path.isdir(os.path.join(base, d)) and not d.startswith("."))
        for cls in class_dirs:
            for path in _walk_images(os.path.join(base, cls), links):
                rows.append((os.path.relpath(path, root), cls, split))
    if rows:
        class_names = sorted({c for _, c, _ in rows})
        index = {c: i for i, c in enumerate(class_names)}
        rows.sort()
        return _report(root, links, SourceTable(
            root, "folder", [r[0] for r in rows], np.array([index[r[1]] for r in rows], dtype=np.int64),
            class_names, groups=[""] * len(rows), splits=[r[2] for r in rows],
        ))
    links = _Links(root)
    images = [os.path.relpath(p, root) for p in _walk_images(root, links)]
    if not images:
        raise SourceError(
            f"no images found in {root!r} (looked for {', '.join(IMAGE_EXTENSIONS)}); pass a folder "
            "with one sub-folder per class, a folder of images or a CSV manifest"
        )
    return _report(root, links, SourceTable(root, "unlabelled", images, np.full(len(images), -1, dtype=np.int64), [],
                                            groups=[""] * len(images), splits=[""] * len(images)))


def _read_manifest(path: str) -> SourceTable:
    root = os.path.dirname(os.path.abspath(path))
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            header = [h.strip().lower() for h in (reader.fieldnames or [])]
            records = [{(k or "").strip().lower(): (v or "").strip() for k, v in r.items() if k is not None} for r in reader]
    except UnicodeDecodeError as exc:
        raise SourceError(f"manifest {path!r} is not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    except csv.Error as exc:
        raise SourceError(f"manifest {path!r} is not valid CSV ({exc}); write it as path,label[,group]") from None
    if "path" not in header:
        raise SourceError(f"manifest {path!r} has no 'path' column (columns: {header}); its first line must be a header such as path,label,group")
    if not records:
        raise SourceError(f"manifest {path!r} lists no images; add rows below the header")
    paths = [r.get("path", "") for r in records]
    empty_paths = [i + 2 for i, p in enumerate(paths) if not p]
    if empty_paths:
        raise SourceError(f"manifest {path!r} has rows without a path (lines {_lines(empty_paths)}); fill or delete them")
    seen: dict[str, int] = {}
    dups = []
    for i, p in enumerate(paths):
        key = os.path.normpath(p)
        if key in seen:
            dups.append(i + 2)
        seen.setdefault(key, i)
    if dups:
        raise SourceError(f"manifest {path!r} lists the same image twice (lines {_lines(dups)}); remove the duplicates")
    labels_raw = [r.get("label", "") for r in records] if "label" in header else [""] * len(records)
    labelled = [bool(lab) for lab in labels_raw]
    if any(labelled) and not all(labelled):
        missing = [i + 2 for i, ok in enumerate(labelled) if not ok]
        raise SourceError(
            f"manifest {path!r} has rows with an empty label (lines {_lines(missing)}); label every row or none"
        )
    class_names = sorted(set(labels_raw)) if any(labelled) else []
    index = {c: i for i, c in enumerate(class_names)}
    labels = np.array([index[lab] if lab else -1 for lab in labels_raw], dtype=np.int64)
    groups = [r.get("group", "") for r in records]
    return SourceTable(root, "manifest", paths, labels, class_names, groups=groups, splits=[""] * len(paths))


def _lines(numbers: list[int], most: int = 5) -> str:
    shown = ", ".join(str(n) for n in numbers[:most])
    return shown + (f" and {len(numbers) - most} more" if len(numbers) > most else "")
