"""Exact duplicates (rows with the same content hash): clusters, unique row keys, CV groups that
keep copies on one side of every fold, and the copies whose labels disagree.

:func:`plan_duplicates` is what ``featx cv``, ``featx fit`` and ``featx run`` apply to a cache's
rows: keys become unique (``SHA`` stays the key of a row without copies; copies get ``SHA#0``,
``SHA#1``... in path order, so caches of the same images still match), copies share a CV group
(merged with the user's groups), and copies with conflicting labels are left out unless
``conflicts="keep"``.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict

import numpy as np

from featx.classify.heads._options import CONFLICTS  # noqa: F401 (defined in the light module)


def exact_clusters(hashes, order=None) -> list[np.ndarray]:
    """Row indices of every content hash held by 2+ rows (sorted by first row; rows in ``order``,
    default row order, within a cluster)."""
    hashes = np.asarray(hashes)
    rows_of = defaultdict(list)
    for i in (range(len(hashes)) if order is None else order):
        rows_of[hashes[i]].append(int(i))
    clusters = [np.asarray(r, dtype=np.int64) for r in rows_of.values() if len(r) > 1]
    return sorted(clusters, key=lambda c: int(c.min()))


def merge_groups(n: int, clusters, groups=None) -> np.ndarray:
    """One group id per row (int64) such that rows of a cluster, and rows of one user group,
    share a group: the connected components of both relations (union-find)."""
    parent = np.arange(n)

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(rows):
        roots = {find(int(r)) for r in rows}
        root = min(roots)
        for r in roots:
            parent[r] = root

    for c in clusters:
        union(c)
    if groups is not None:
        _, inverse = np.unique(np.asarray(groups).astype(str), return_inverse=True)
        members = defaultdict(list)
        for i, g in enumerate(inverse):
            members[int(g)].append(i)
        for rows in members.values():
            if len(rows) > 1:
                union(rows)
    roots = np.array([find(i) for i in range(n)])
    return np.unique(roots, return_inverse=True)[1].astype(np.int64)


def unique_keys(hashes, paths=None) -> np.ndarray:
    """Row keys: the hash of a row without copies, ``HASH#k`` for the k-th copy in path order."""
    hashes = np.asarray(hashes).astype(str)
    keys = hashes.astype(object)
    order = None if paths is None else np.argsort(np.asarray(paths).astype(str), kind="stable")
    for c in exact_clusters(hashes, order):
        for k, i in enumerate(c):
            keys[i] = f"{hashes[i]}#{k}"
    return keys.astype(str)


@dataclasses.dataclass(frozen=True)
class DuplicatePlan:
    """What to do with a table's exact copies.

    ``clusters``: row indices of each set of copies; ``conflicting``: those whose labels differ;
    ``keep``: boolean mask of the rows to use (conflicting copies off with ``conflicts="drop"``);
    ``keys``: unique row keys; ``groups``: CV groups over *all* rows (copies and the user's groups
    merged; ``None`` when there are neither copies nor user groups).
    """

    clusters: list
    conflicting: list
    keep: np.ndarray
    keys: np.ndarray
    groups: np.ndarray | None
    conflicts: str

    @property
    def n_dropped(self) -> int:
        return int((~self.keep).sum())

    def message(self, paths=None, *, cv: bool = True) -> str | None:
        """One line for the user about the copies (None when there are none); ``cv=False`` for a
        use without folds (``featx fit``), which says nothing about CV groups."""
        if not self.clusters:
            return None
        n_rows = sum(len(c) for c in self.clusters)
        text = f"{n_rows} rows are exact copies (same sha256) in {len(self.clusters)} cluster(s)"
        if cv:
            text += "; copies are kept in one CV group so no fold has a copy on both sides"
        if self.conflicting:
            first = self.conflicting[0]
            shown = "" if paths is None else " (e.g. " + " / ".join(str(paths[i]) for i in first[:2]) + ")"
            n_conf = sum(len(c) for c in self.conflicting)
            if self.conflicts == "drop":
                text += (f"; {len(self.conflicting)} cluster(s) of {n_conf} rows carry conflicting labels{shown} "
                         f"and are left out of training and evaluation (conflicts='keep' / --conflicts keep keeps them)")
            else:
                text += (f"; {len(self.conflicting)} cluster(s) of {n_conf} rows carry conflicting labels{shown} "
                         f"and are kept as labelled (conflicts='keep')")
        return text


def plan_duplicates(hashes, labels, *, groups=None, paths=None, conflicts: str = CONFLICTS.default) -> DuplicatePlan:
    """Find exact copies by ``hashes`` and decide keys, groups and the rows to keep (see
    :class:`DuplicatePlan`). Rows without copies keep ``groups`` as given (``None`` stays
    ``None`` when there are no copies), so caches without copies split exactly as before."""
    conflicts = CONFLICTS.check(conflicts)
    hashes = np.asarray(hashes)
    labels = np.asarray(labels)
    n = len(hashes)
    clusters = exact_clusters(hashes)
    conflicting = [c for c in clusters if np.unique(labels[c]).size > 1]
    keep = np.ones(n, dtype=bool)
    if conflicts == "drop":
        for c in conflicting:
            keep[c] = False
    if clusters:
        merged = merge_groups(n, clusters, groups)
    else:
        merged = None if groups is None else np.asarray(groups)
    return DuplicatePlan(clusters=clusters, conflicting=conflicting, keep=keep, keys=unique_keys(hashes, paths),
                         groups=merged, conflicts=conflicts)


def straddling(clusters, splits) -> int:
    """How many clusters have rows on both sides (train and test) of at least one split."""
    count = 0
    for c in clusters:
        c = np.asarray(c)
        for train, test in splits:
            if np.isin(c, test).any() and np.isin(c, train).any():
                count += 1
                break
    return count
