"""``clean_rows``: what to do with each audited row when writing a clean manifest - keep it (with
a CV group and a label-issue flag) or drop it, with the reason.

- Exact copies (same bytes): one copy kept (the first path); the others dropped. When the copies
  carry different labels, all of them are dropped (no label can be trusted).
- Near-duplicate clusters: one CV group each (``near<k>``), so a later CV never splits them.
- Suspected label errors: flagged, or dropped with ``drop_label_issues``.
"""

from __future__ import annotations

import numpy as np


def clean_rows(n: int, labels, exact, near, label_issue_rows, *, groups=None, drop_label_issues: bool = False):
    """``(keep, group, flagged, reasons)``: booleans (n,), group names (n,) (a row outside any
    group and cluster gets its own, ``row<i>``: a manifest's empty group would be one group),
    booleans (n,), and ``{row: reason}`` of the dropped rows."""
    labels = np.asarray(labels)
    keep = np.ones(n, bool)
    reasons: dict[int, str] = {}
    given = groups if groups is not None else [None] * n
    group = np.array([f"g{g}" if g is not None and str(g) != "" else "" for g in given], dtype=object)
    for c in exact:
        c = np.sort(np.asarray(c))
        if np.unique(labels[c]).size > 1:
            for r in c:
                keep[r], reasons[int(r)] = False, "exact copy with a conflicting label"
        else:
            for r in c[1:]:
                keep[r], reasons[int(r)] = False, f"exact copy of row {int(c[0])}"
    for k, c in enumerate(near):
        for r in np.asarray(c[0]):
            group[r] = f"near{k}" if not group[r] else f"{group[r]}+near{k}"
    for r in range(n):
        if not group[r]:
            group[r] = f"row{r}"
    flagged = np.zeros(n, bool)
    flagged[np.asarray(list(label_issue_rows), dtype=np.int64)] = True
    if drop_label_issues:
        for r in np.flatnonzero(flagged & keep):
            keep[r], reasons[int(r)] = False, "suspected label error"
    return keep, group, flagged, reasons
