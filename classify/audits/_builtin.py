"""The built-in audit checks, in ``featx audit --json`` order: each turns its part of what
:func:`~featx.classify.audit` computed (one :class:`~featx.classify.audits._registry.AuditContext`)
into findings in the ``--json`` shape, rows named by ``ctx.paths``. They compute nothing: the
shared work (reduced features, k-NN, clusters, the plain and leak-proof CVs, label issues, outlier
scores, calibration, image statistics) is done once before them. Registered, built in, by
``_registry``.

Light (no numpy import, no scikit-learn)."""

from __future__ import annotations


def exact_duplicates(ctx) -> list:
    """Each cluster of byte-identical copies as its paths."""
    p = ctx.paths
    return [[p[i] for i in c] for c in ctx.exact]


def near_duplicates(ctx) -> list:
    """Each near-duplicate cluster: its paths, its lowest cosine and, for a
    :class:`~featx.classify.audits._near.NearCluster`, the accepted pairs with their evidence."""
    p = ctx.paths
    return [{"paths": [p[i] for i in c[0]], "min_similarity": round(float(c[1]), 4),
             **({"pairs": c.pairs_json(p)} if hasattr(c, "pairs_json") else {})} for c in ctx.near]


def label_issues(ctx) -> list:
    """Suspected label errors, most likely first: path, given and suggested class, score
    (none without out-of-fold probabilities: ``ctx.label_issues`` None)."""
    li, p, names = ctx.label_issues, ctx.paths, ctx.class_names
    if li is None:
        return []
    return [{"path": p[r], "given": names[g], "suggested": names[s], "score": round(float(sc), 4)}
            for r, g, s, sc in zip(li.rows, li.given, li.suggested, li.score)]


def outliers(ctx) -> list:
    """The ``ctx.outliers`` rows (farthest first) with their k-NN distance."""
    p, scores = ctx.paths, ctx.outlier_scores
    return [{"path": p[int(i)], "score": round(float(scores[int(i)]), 4)} for i in ctx.outliers]


def calibration(ctx):
    """The calibration dict (ECE, accuracy, mean confidence, bins), None without probabilities."""
    return None if ctx.calibration is None else dict(ctx.calibration)


def leak(ctx) -> dict:
    """The leak statistics: straddling clusters, grouped and ungrouped scores, their difference."""
    return dict(ctx.leak)


def image_issues(ctx) -> list:
    """Image-quality issues (``ctx.image_issues``: ``(row, issue, score)``; none when None)."""
    p = ctx.paths
    return [{"path": p[int(r)], "issue": str(issue), "score": round(float(sc), 4)} for r, issue, sc in ctx.image_issues or ()]


#: (name, check, help) of the built-in checks, in ``--json`` order.
BUILTIN_CHECKS = (
    ("exact_duplicates", exact_duplicates, "byte-identical copies (same sha256)"),
    ("near_duplicates", near_duplicates, "near-duplicate clusters (feature cosine and perceptual hash)"),
    ("label_issues", label_issues, "suspected label errors (confident learning on out-of-fold probabilities)"),
    ("outliers", outliers, "rows farthest from their nearest neighbours (k-NN distance)"),
    ("calibration", calibration, "calibration of the out-of-fold probabilities (ECE)"),
    ("leak", leak, "duplicate clusters across folds and the score with and without leak-proof grouping"),
    ("image_issues", image_issues, "image-quality issues (blank, dark, blurry, ...)"),
)
