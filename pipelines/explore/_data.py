"""What the explorer page shows, as plain data: one entry per cache row (map position, path,
label, prediction, scores, findings) and each row's nearest neighbours in feature space.

Findings arrive in the ``featx audit --json`` shape (rows named by path; ``image_issues`` read
when present) and predictions as ``{path: (predicted class, confidence)}``, whichever produced
them: the audit run here, an audit JSON file, ``featx predict``'s CSV or ``featx run``'s audit.
"""

from __future__ import annotations

import csv
import os

import numpy as np

from featx.pipelines._errors import PipelineError

NEIGHBOURS = 8


def _by_path(paths, root: str) -> dict:
    """Row of each path, as stored and as the absolute file under ``root``."""
    out = {p: i for i, p in enumerate(paths)}
    if root:
        out.update({os.path.normpath(os.path.join(root, p)): i for i, p in enumerate(paths)})
    return out


def _row(lookup: dict, path) -> int | None:
    if path in lookup:
        return lookup[path]
    return lookup.get(os.path.normpath(str(path)))


def read_predictions(path: str, class_names) -> dict:
    """``{path: (class index, confidence)}`` of a ``featx predict`` CSV (path,predicted,p_CLASS...)."""
    index = {c: i for i, c in enumerate(class_names)}
    out = {}
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            if not reader.fieldnames or "path" not in reader.fieldnames or "predicted" not in reader.fieldnames:
                raise PipelineError(f"--predictions {path!r} has no path,predicted header; pass the CSV of 'featx predict'")
            for r in reader:
                if r["predicted"] in index:
                    probs = [float(v) for k, v in r.items() if k and k.startswith("p_") and v]
                    out[r["path"]] = (index[r["predicted"]], max(probs) if probs else float("nan"))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise PipelineError(f"--predictions {path!r} cannot be read ({exc}); pass the CSV of 'featx predict'") from None
    return out


def _issue_text(item) -> tuple[str | None, str]:
    if isinstance(item, str):
        return item, "image issue"
    if isinstance(item, dict):
        what = item.get("issues", item.get("issue", item.get("kind", item.get("reason", "image issue"))))
        if isinstance(what, (list, tuple)):
            what = ", ".join(map(str, what))
        return item.get("path"), str(what)
    return None, ""


def findings_columns(findings: dict | None, paths, root: str) -> dict:
    """Per-row columns of an audit in the ``featx audit --json`` shape: ``issue`` (suggested
    class name or ''), ``issue_score``, ``outlier`` (0/1), ``outlier_score``, ``dup`` (cluster
    number, -1 none), ``image_issue`` (text or '' ; None when the audit has no ``image_issues``)."""
    n = len(paths)
    cols = {"issue": [""] * n, "issue_score": [None] * n, "outlier": [0] * n, "outlier_score": [None] * n,
            "dup": [-1] * n, "image_issue": None}
    if not findings:
        return cols
    lookup = _by_path(paths, root)
    for x in findings.get("label_issues") or []:
        r = _row(lookup, x.get("path"))
        if r is not None:
            cols["issue"][r] = str(x.get("suggested", "?"))
            cols["issue_score"][r] = x.get("score")
    for x in findings.get("outliers") or []:
        r = _row(lookup, x.get("path") if isinstance(x, dict) else x)
        if r is not None:
            cols["outlier"][r] = 1
            cols["outlier_score"][r] = x.get("score") if isinstance(x, dict) else None
    clusters = [list(c) for c in findings.get("exact_duplicates") or []]
    clusters += [list(c.get("paths", [])) for c in findings.get("near_duplicates") or []]
    for k, members in enumerate(clusters):
        for p in members:
            r = _row(lookup, p)
            if r is not None and cols["dup"][r] < 0:
                cols["dup"][r] = k
    if "image_issues" in findings:
        cols["image_issue"] = [""] * n
        for item in findings.get("image_issues") or []:
            p, what = _issue_text(item)
            r = _row(lookup, p) if p is not None else None
            if r is not None:  # a row with several issues lists them all
                cols["image_issue"][r] = f"{cols['image_issue'][r]}, {what}" if cols["image_issue"][r] else what
    return cols


def _rounded(values, digits: int = 4):
    return [None if v is None or not np.isfinite(v) else round(float(v), digits) for v in values]


def page_data(data, layer: str, xy, *, root: str, findings: dict | None = None, predictions: dict | None = None,
              outlier_scores=None, k: int = NEIGHBOURS, title: str = "", map_method: str = "") -> dict:
    """The explorer's data of ``data`` (a :class:`featx.extract.CacheData`): ``xy`` its (n, 2) map,
    ``findings`` an audit in the JSON shape, ``predictions`` ``{path: (class, confidence)}``,
    ``outlier_scores`` one k-NN outlier score per row (else those the findings list)."""
    from featx.classify.audits import NeighbourIndex

    paths = list(data.paths)
    n = len(paths)
    cols = findings_columns(findings, paths, root)
    pred, conf = [-1] * n, [None] * n
    if predictions:
        lookup = _by_path(paths, root)
        for p, (c, s) in predictions.items():
            r = _row(lookup, p)
            if r is not None:
                pred[r], conf[r] = int(c), s
    if outlier_scores is not None:
        cols["outlier_score"] = list(np.asarray(outlier_scores, dtype=float))
    X = data.features[layer]
    if n > 1:
        cos, ids = NeighbourIndex().build(X).self_neighbours(int(min(k, n - 1)))
    else:
        cos, ids = np.empty((n, 0)), np.empty((n, 0), dtype=int)
    xy = np.asarray(xy, dtype=float)
    scores = {}
    if any(v is not None for v in conf):
        scores["confidence"] = _rounded(conf, 4)
    if any(v is not None for v in cols["issue_score"]):
        scores["label-issue score"] = _rounded(cols["issue_score"], 4)
    if any(v is not None for v in cols["outlier_score"]):
        scores["outlier score"] = _rounded(cols["outlier_score"], 4)
    return {
        "format": "featx.explore", "format_version": 1, "title": title, "layer": layer, "map": map_method,
        "root": root, "n": n, "classes": list(data.class_names),
        "x": np.rint(xy[:, 0] * 10000).astype(int).tolist() if n else [],
        "y": np.rint(xy[:, 1] * 10000).astype(int).tolist() if n else [],
        "paths": paths, "label": np.asarray(data.labels, dtype=int).tolist(),
        "pred": pred if predictions else None,
        "issue": cols["issue"], "outlier": cols["outlier"], "dup": cols["dup"], "image_issue": cols["image_issue"],
        "has_audit": findings is not None, "scores": scores,
        "k": int(ids.shape[1]), "nn": ids.astype(int).ravel().tolist(),
        "nn_cos": np.round(cos.astype(float), 3).ravel().tolist(),
    }
