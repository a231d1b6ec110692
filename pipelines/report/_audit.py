"""The report's Audit section: fold leaks and the score with and without leak-proof grouping,
calibration (ECE and a reliability diagram), a 2-D map of the best layer (PCA then t-SNE) with
misclassified and suspect rows marked, the leak difference with its interval, and galleries of small embedded thumbnails - misclassified
out-of-fold images by true -> predicted, suspected label errors, duplicate clusters side by side
(with each accepted pair's evidence), outliers and image-quality issues. Thumbnails are base64 JPEGs of at most ``THUMB_PX`` pixels; once ``THUMB_BUDGET``
bytes are embedded the rest are listed by path, so reports of large sets stay small.

The galleries read the audit stage's ``findings``: the built-in audit checks' findings in the
``featx audit --json`` shape (rows named by path), the same record results.json holds."""

from __future__ import annotations

import base64
import html
import os

import numpy as np

from featx.classify import map_png as classify_map_png
from featx.classify import reliability_png
from featx.extract.images import thumbnail_jpeg

THUMB_PX = 96
THUMB_BUDGET = 600_000  # bytes of base64 text for all thumbnails of a report
PER_GALLERY = 24

class Thumbs:
    """Embeds thumbnails of a source's images until the byte budget is spent."""

    def __init__(self, root: str, budget: int = THUMB_BUDGET):
        self.root, self.left, self.skipped = root, budget, 0

    def figure(self, path: str, caption: str) -> str:
        e = html.escape
        jpeg = thumbnail_jpeg(os.path.join(self.root, path), THUMB_PX) if self.left > 0 else None
        data = None if jpeg is None else base64.b64encode(jpeg).decode("ascii")
        if data is None or len(data) > self.left:
            self.skipped += 1
            return f"<figure><figcaption>{e(path)}<br>{caption}</figcaption></figure>"
        self.left -= len(data)
        return (f"<figure><img alt='{e(path)}' title='{e(path)}' src='data:image/jpeg;base64,{data}'>"
                f"<figcaption>{caption}</figcaption></figure>")


def map_png(audit: dict, title: str) -> bytes:
    """The audit's 2-D map, misclassified out-of-fold rows and suspected label errors marked."""
    rows = np.array(audit["map"]["rows"], dtype=int)
    suspect = {x["path"] for x in audit["findings"]["label_issues"]}
    return classify_map_png(audit["map"]["xy"], np.array(audit["labels"])[rows], audit["class_names"], title,
                            pred=np.array(audit["oof_pred"])[rows],
                            suspect=np.array([audit["paths"][i] in suspect for i in rows], dtype=bool))


def audit_section(page) -> list[str]:
    from featx.common.html import escape as _e, figure as _img, kv_table as _kv_table, number as _f

    parts = ["<p class='muted'>Checks of the data behind the best configuration of each source: exact copies "
             "(same sha256) and near-duplicates (feature cosine and a mirror-invariant perceptual hash of the image files), "
             "the clusters that fall on both sides of a fold, suspected label errors (confident learning, Northcutt, Jiang "
             "and Chuang, JAIR 2021, on the out-of-fold probabilities), k-NN outliers and calibration.</p>"]
    for src, _recs, best, _r in page.sources(parts):
        audit = page.result.audits.get(src.name)
        if not audit:
            continue
        paths, names = audit["paths"], audit["class_names"]
        thumbs = Thumbs(audit.get("root") or "")
        found = audit["findings"]
        lk = found["leak"]
        how = ("clusters are CV groups (cv.dedupe = 'group')" if lk["mode"] == "group"
               else "clusters are not grouped (cv.dedupe = 'warn'; set 'group' to keep each cluster in one fold)")
        leak_rows = [("exact-copy clusters", len(found["exact_duplicates"])),
                     ("near-duplicate clusters", len(found["near_duplicates"])),
                     ("clusters on both sides of a fold", lk["straddling_clusters"]),
                     (f"{lk['metric']} with leak-proof grouping", _f(lk["score_grouped"])),
                     (f"{lk['metric']} without", _f(lk["score_ungrouped"]))]
        if lk.get("difference") is not None:
            lo, hi = lk["interval"]
            leak_rows.append(("leak: ungrouped minus grouped", _e(
                f"{lk['difference']:+.3f} (95% interval {lo:+.3f} to {hi:+.3f}; paired folds, bootstrap over rows and "
                f"{lk.get('repeats', 1)} CV repetition(s)) - " + ("no evidence of a leak" if lo <= 0 <= hi else
                                                                   "the duplicates inflate the score" if lo > 0 else
                                                                   "grouping scores higher")) ))
        leak_rows.append(("folds used", _e(how)))
        if lk.get("unavailable"):
            leak_rows.append(("note", _e(lk["unavailable"])))
        parts.append(_kv_table(leak_rows))
        tag = src.name.replace(os.sep, "_")
        figs = []
        if found["calibration"]:
            cal = found["calibration"]
            figs.append(_img(reliability_png(cal, f"reliability ({best['head']})"), "reliability diagram",
                             f"Expected calibration error {_f(cal['ece'])} (10 bins).", f"reliability-{tag}.png", page.plots_dir))
        figs.append(_img(map_png(audit, f"{best['feature_set']} (t-SNE)"), "2-D map",
                         "PCA then t-SNE of the best layer's features, coloured by class; x: misclassified out of fold, "
                         "red circle: suspected label error.", f"map-{tag}.png", page.plots_dir))
        parts.append("<div class='plots'>" + "".join(figs) + "</div>")
        parts += _galleries(audit, paths, names, thumbs)
        if thumbs.skipped:
            parts.append(f"<p class='muted'>{thumbs.skipped} image(s) listed by path only (thumbnail budget of "
                         f"{THUMB_BUDGET // 1000} kB reached, or the file is unreadable).</p>")
    return parts


def _galleries(audit, paths, names, thumbs) -> list[str]:
    e = html.escape
    found = audit["findings"]
    y, pred = np.array(audit["labels"]), np.array(audit["oof_pred"])
    label_of = {p: names[y[i]] for i, p in enumerate(paths)}
    out = ["<h3>Misclassified out of fold (true → predicted)</h3>"]
    wrong = np.flatnonzero((pred != y) & (pred >= 0))
    pairs = sorted({(int(y[i]), int(pred[i])) for i in wrong})
    if not pairs:
        out.append("<p class='muted'>none</p>")
    for t, p in pairs:
        rows = [int(i) for i in wrong if y[i] == t and pred[i] == p][:PER_GALLERY]
        out.append(f"<p><b>{e(names[t])} → {e(names[p])}</b> ({int(((y == t) & (pred == p)).sum())})</p><div class='gallery'>"
                   + "".join(thumbs.figure(paths[i], e(os.path.basename(paths[i]))) for i in rows) + "</div>")
    out.append("<h3>Suspected label errors (given → suggested)</h3><div class='gallery'>" + ("".join(
        thumbs.figure(x["path"], f"{e(x['given'])} → <b>{e(x['suggested'])}</b> ({x['score']:.2f})")
        for x in found["label_issues"][:PER_GALLERY]) or "<p class='muted'>none</p>") + "</div>")
    clusters = ([(c, "exact copies") for c in found["exact_duplicates"]]
                + [(c["paths"], _evidence(c)) for c in found["near_duplicates"]])
    out.append("<h3>Duplicate clusters</h3>")
    out += ["<div class='cluster'>" + "".join(thumbs.figure(p, e(f"{label_of[p]}: {os.path.basename(p)}"))
                                               for p in members[:8]) + f"<span class='muted'>{e(what)}</span></div>"
            for members, what in clusters[:PER_GALLERY]]
    if not clusters:
        out.append("<p class='muted'>none</p>")
    out.append("<h3>Outliers (farthest from their nearest neighbours)</h3><div class='gallery'>" + "".join(
        thumbs.figure(o["path"], e(label_of[o["path"]])) for o in found["outliers"][:PER_GALLERY]) + "</div>")
    # None: no pixel statistics (the source images were not found); the findings then hold []
    out += _quality_gallery(None if audit.get("image_issues") is None else found["image_issues"], thumbs)
    return out


def _evidence(cluster: dict) -> str:
    """The accepted pairs of a near-duplicate cluster (its findings) with their evidence, one line each."""
    pairs = cluster.get("pairs") or []
    if not pairs:
        return f"min cosine {cluster['min_similarity']:.3f}"
    return "; ".join(f"{os.path.basename(p['paths'][0])} ~ {os.path.basename(p['paths'][1])}: cosine {p['cosine']:.3f}, "
                     f"hash distance {'-' if p['hash_distance'] is None else p['hash_distance']}"
                     f"{', mirrored' if p['mirrored'] else ''}" for p in pairs[:8])


def _quality_gallery(issues, thumbs) -> list[str]:
    """Image-quality issues (findings: path, issue, score) by kind (blank, dark, blurry, ...), each
    image with its score; ``issues`` None: unavailable."""
    e = html.escape
    out = ["<h3>Image-quality issues</h3>"]
    if issues is None:
        return out + ["<p class='muted'>unavailable: the source images were not found</p>"]
    if not issues:
        return out + ["<p class='muted'>none</p>"]
    for kind in dict.fromkeys(x["issue"] for x in issues):
        rows = [x for x in issues if x["issue"] == kind]
        if rows:
            out.append(f"<p><b>{e(kind.replace('_', ' '))}</b> ({len(rows)})</p><div class='gallery'>" + "".join(
                thumbs.figure(x["path"], e(f"{os.path.basename(x['path'])} ({x['score']:.3g})"))
                for x in rows[:PER_GALLERY]) + "</div>")
    return out

