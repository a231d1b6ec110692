"""The report's Audit section: fold leaks and the score with and without leak-proof grouping,
calibration (ECE and a reliability diagram), a 2-D map of the best layer (PCA then t-SNE) with
misclassified and suspect rows marked, and galleries of small embedded thumbnails - misclassified
out-of-fold images by true -> predicted, suspected label errors, duplicate clusters side by side
and outliers. Thumbnails are base64 JPEGs of at most ``THUMB_PX`` pixels; once ``THUMB_BUDGET``
bytes are embedded the rest are listed by path, so reports of large sets stay small."""

from __future__ import annotations

import base64
import html
import io
import os

import numpy as np

from featx.classify import map_png as classify_map_png
from featx.classify import reliability_png

THUMB_PX = 96
THUMB_BUDGET = 600_000  # bytes of base64 text for all thumbnails of a report
PER_GALLERY = 24

_STYLE = ("<style>.gallery,.cluster{display:flex;flex-wrap:wrap;gap:6px;margin:6px 0 14px;align-items:flex-start}"
          ".gallery figure,.cluster figure{margin:0;width:104px}.gallery img,.cluster img{width:auto;max-width:100px;"
          "max-height:100px}.gallery figcaption,.cluster figcaption{font-size:11px;word-break:break-all}"
          ".cluster{border:1px solid #ddd;padding:4px;margin:4px 0}</style>")


class Thumbs:
    """Embeds thumbnails of a source's images until the byte budget is spent."""

    def __init__(self, root: str, budget: int = THUMB_BUDGET):
        self.root, self.left, self.skipped = root, budget, 0

    def figure(self, path: str, caption: str) -> str:
        e = html.escape
        data = self._b64(path) if self.left > 0 else None
        if data is None:
            self.skipped += 1
            return f"<figure><figcaption>{e(path)}<br>{caption}</figcaption></figure>"
        return (f"<figure><img alt='{e(path)}' title='{e(path)}' src='data:image/jpeg;base64,{data}'>"
                f"<figcaption>{caption}</figcaption></figure>")

    def _b64(self, path: str) -> str | None:
        from PIL import Image, ImageOps

        try:
            with Image.open(os.path.join(self.root, path)) as im:
                im.draft("RGB", (THUMB_PX * 2, THUMB_PX * 2))
                img = ImageOps.exif_transpose(im).convert("RGB")
                img.thumbnail((THUMB_PX, THUMB_PX))
                buf = io.BytesIO()
                img.save(buf, format="JPEG", quality=70)
        except Exception:  # noqa: BLE001 - a moved or unreadable file: listed by path
            return None
        text = base64.b64encode(buf.getvalue()).decode("ascii")
        if len(text) > self.left:
            return None
        self.left -= len(text)
        return text


def map_png(audit: dict, title: str) -> bytes:
    """The audit's 2-D map, misclassified out-of-fold rows and suspected label errors marked."""
    rows = np.array(audit["map"]["rows"], dtype=int)
    return classify_map_png(audit["map"]["xy"], np.array(audit["labels"])[rows], audit["class_names"], title,
                            pred=np.array(audit["oof_pred"])[rows],
                            suspect=np.isin(rows, [i["row"] for i in audit["label_issues"]]))


def audit_section(page) -> list[str]:
    from featx.pipelines._report import _e, _f, _img

    parts = [_STYLE, "<p class='muted'>Checks of the data behind the best configuration of each source: exact copies "
             "(same sha256) and near-duplicates (feature cosine and a mirror-invariant perceptual hash of the image files), "
             "the clusters that fall on both sides of a fold, suspected label errors (confident learning, Northcutt, Jiang "
             "and Chuang, JAIR 2021, on the out-of-fold probabilities), k-NN outliers and calibration.</p>"]
    for src, _recs, best, _r in page.sources(parts):
        audit = page.result.audits.get(src.name)
        if not audit:
            continue
        paths, names = audit["paths"], audit["class_names"]
        thumbs = Thumbs(audit.get("root") or "")
        lk = audit["leak"]
        how = ("clusters are CV groups (cv.dedupe = 'group')" if lk["mode"] == "group"
               else "clusters are not grouped (cv.dedupe = 'warn'; set 'group' to keep each cluster in one fold)")
        leak_rows = [("exact-copy clusters", len(audit["exact"])), ("near-duplicate clusters", len(audit["near"])),
                     ("clusters on both sides of a fold", lk["straddling_clusters"]),
                     (f"{lk['metric']} with leak-proof grouping", _f(lk["score_grouped"])),
                     (f"{lk['metric']} without", _f(lk["score_ungrouped"])), ("folds used", _e(how))]
        if lk.get("unavailable"):
            leak_rows.append(("note", _e(lk["unavailable"])))
        parts.append("<table>" + "".join(f"<tr><th>{_e(k)}</th><td>{v}</td></tr>" for k, v in leak_rows) + "</table>")
        tag = src.name.replace(os.sep, "_")
        figs = []
        if audit["calibration"]:
            cal = audit["calibration"]
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
    y, pred = np.array(audit["labels"]), np.array(audit["oof_pred"])
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
        thumbs.figure(paths[x["row"]], f"{e(names[x['given']])} → <b>{e(names[x['suggested']])}</b> ({x['score']:.2f})")
        for x in audit["label_issues"][:PER_GALLERY]) or "<p class='muted'>none</p>") + "</div>")
    clusters = [(c, "exact copies") for c in audit["exact"]] + [(c["rows"], f"min cosine {c['min_similarity']:.3f}") for c in audit["near"]]
    out.append("<h3>Duplicate clusters</h3>")
    out += [f"<div class='cluster'>" + "".join(thumbs.figure(paths[i], e(f"{names[y[i]]}: {os.path.basename(paths[i])}"))
                                               for i in rows[:8]) + f"<span class='muted'>{e(what)}</span></div>"
            for rows, what in clusters[:PER_GALLERY]]
    if not clusters:
        out.append("<p class='muted'>none</p>")
    out.append("<h3>Outliers (farthest from their nearest neighbours)</h3><div class='gallery'>" + "".join(
        thumbs.figure(paths[i], e(names[y[i]])) for i in audit["outliers"][:PER_GALLERY]) + "</div>")
    return out


def audit_record(audit: dict) -> dict:
    """A source's audit in the ``featx audit --json`` shape (paths instead of row numbers), for
    results.json."""
    paths, names = audit["paths"], audit["class_names"]
    return {
        "exact_duplicates": [[paths[i] for i in c] for c in audit["exact"]],
        "near_duplicates": [{"paths": [paths[i] for i in c["rows"]], "min_similarity": round(c["min_similarity"], 4)}
                            for c in audit["near"]],
        "label_issues": [{"path": paths[x["row"]], "given": names[x["given"]], "suggested": names[x["suggested"]],
                          "score": round(x["score"], 4)} for x in audit["label_issues"]],
        "outliers": [paths[i] for i in audit["outliers"]],
        "calibration": audit["calibration"],
        "leak": dict(audit["leak"]),
    }
