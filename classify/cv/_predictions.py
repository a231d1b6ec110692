"""Predictions as CSV: one row per image (path, predicted class, one probability per class),
then the images that could not be decoded with empty cells."""

from __future__ import annotations

import csv
import sys


def write_predictions(rows, class_names, output: str | None = None, failures=()) -> None:
    """Write ``rows`` of ``(path, predicted, probabilities)`` as CSV to ``output`` (stdout when
    None): header ``path,predicted,p_<class>...``, probabilities with 6 decimals; each
    ``(path, reason)`` of ``failures`` follows as a row with empty cells."""
    fh = open(output, "w", newline="", encoding="utf-8", errors="surrogateescape") if output else sys.stdout
    try:
        w = csv.writer(fh)
        w.writerow(["path", "predicted"] + [f"p_{c}" for c in class_names])
        for path, label, probs in rows:
            w.writerow([path, label] + [f"{p:.6f}" for p in probs])
        for path, _reason in failures:
            w.writerow([path, "", *([""] * len(class_names))])
    finally:
        if output:
            fh.close()
