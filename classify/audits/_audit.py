"""``audit``: the data checks of one feature set in one call - exact and near-duplicate
clusters, how many of them straddle the folds of a plain CV, the score with and without
leak-proof grouping, confident-learning label issues, k-NN outliers and calibration - computed
once, then turned into findings by every audit check of the registry (the built-in ones first,
``_builtin``, then the user's): the ``featx audit --json`` record (:meth:`Audit.to_json`)."""

from __future__ import annotations

import copy
import dataclasses
import warnings

import numpy as np

from featx.classify.audits._exact import exact_clusters, merge_groups, straddling
from featx.classify.audits._labels import find_label_issues, mean_oof_proba, prune_and_rescore
from featx.classify.audits._near import NearDuplicateRule, near_duplicates
from featx.classify.audits._quality import image_issues
from featx.classify.audits._registry import BUILTIN_AUDIT_KEYS, make_context, run_audit_checks
from featx.classify.audits._stats import calibration, knn_outliers, neighbours, reduce_features
from featx.classify._errors import ClassifyWarning
from featx.classify.heads._options import DEDUPE  # noqa: F401 (defined in the light module)


@dataclasses.dataclass(frozen=True)
class Audit:
    """What :func:`audit` found. Row indices refer to the audited feature set; ``findings`` is
    ``{name: findings}`` of every audit check (built-in ones first), rows named by ``paths``."""

    paths: list
    class_names: list
    exact: list
    near: list
    label_issues: object
    outliers: np.ndarray
    outlier_scores: np.ndarray
    calibration: dict
    leak: dict
    oof_pred: np.ndarray
    oof_proba: np.ndarray
    labels: np.ndarray
    head: str
    pruned: bool = False
    image_issues: list = dataclasses.field(default_factory=list)  # (row, issue, score), see _quality
    findings: dict = dataclasses.field(default_factory=dict)  # {name: findings} of every check, see _registry

    @property
    def extra(self) -> dict:
        """``{name: findings}`` of the user's registered checks (after the built-in keys)."""
        return {k: v for k, v in self.findings.items() if k not in BUILTIN_AUDIT_KEYS}

    def to_json(self) -> dict:
        """The ``featx audit --json`` contract (see README): ``{name: findings}`` of every check
        in registration order (a copy)."""
        return copy.deepcopy(self.findings)

    def summary(self, top: int = 5) -> str:
        """A few lines for people: counts and the top items of each check."""
        j = self.to_json()
        lines = [f"exact duplicates: {len(j['exact_duplicates'])} cluster(s)"]
        lines += [f"  {' = '.join(c)}" for c in j["exact_duplicates"][:top]]
        lines.append(f"near duplicates: {len(j['near_duplicates'])} cluster(s)")
        lines += [f"  {' ~ '.join(c['paths'])} (min cosine {c['min_similarity']:.3f})" for c in j["near_duplicates"][:top]]
        lines.append(f"label issues: {len(j['label_issues'])} (head {self.head}, out-of-fold, confident learning"
                     f"{', pruned and rescored' if self.pruned else ''})")
        lines += [f"  {x['path']}: given {x['given']}, suggested {x['suggested']} (score {x['score']:.3f})" for x in j["label_issues"][:top]]
        lines.append("outliers (k-NN distance): " + ", ".join(f"{o['path']} ({o['score']:.3f})" for o in j["outliers"][:top]))
        lines.append(f"calibration: ECE {self.calibration['ece']:.3f} (accuracy {self.calibration['accuracy']:.3f}, "
                     f"mean confidence {self.calibration['mean_confidence']:.3f})")
        counts = {}
        for _, issue, _ in self.image_issues:
            counts[issue] = counts.get(issue, 0) + 1
        lines.append(f"image issues: {len(self.image_issues)}" + (" (" + ", ".join(f"{k} {v}" for k, v in counts.items()) + ")"
                                                                  if counts else ""))
        lines += [f"  {x['path']}: {x['issue']} (score {x['score']:.3f})" for x in j["image_issues"][:top]]
        for name, found in self.extra.items():
            lines.append(f"{name}: {len(found) if isinstance(found, (list, dict)) else found!r}"
                         f"{' finding(s)' if isinstance(found, (list, dict)) else ''} (registered check)")
        lk = self.leak
        lines.append(f"leak: {lk['straddling_clusters']} cluster(s) straddle the folds of a plain CV; {lk['metric']} "
                     f"{lk['score_ungrouped']:.3f} ungrouped vs {lk['score_grouped']:.3f} with clusters as groups on paired "
                     f"folds: difference {lk['difference']:+.3f} (95% interval {lk['interval'][0]:+.3f} to "
                     f"{lk['interval'][1]:+.3f}; paired bootstrap over rows and {lk.get('repeats', 1)} CV repetition(s))")
        return "\n".join(lines)


def cluster_rows(X, *, sha256=None, phash=None, rule: NearDuplicateRule | None = None, Z=None, knn=None):
    """(exact clusters, near clusters) of a table's rows; ``phash`` is ``(hashes, mirrored, ok)``.
    Near clusters made only of byte-identical copies are left out (they are the exact ones)."""
    exact = exact_clusters(sha256) if sha256 is not None else []
    hashes, mirrored, ok = phash if phash is not None else (None, None, None)
    near = near_duplicates(X, hashes=hashes, mirrored=mirrored, hash_ok=ok, rule=rule, Z=Z, knn=knn)
    if sha256 is not None:  # a cluster of byte-identical copies only is listed once, as exact
        sha256 = np.asarray(sha256)
        near = [c for c in near if np.unique(sha256[c[0]]).size > 1]
    return exact, near


def leak_groups(n: int, exact, near, groups=None) -> np.ndarray:
    """CV groups that keep every exact and near-duplicate cluster (and user group) together."""
    return merge_groups(n, list(exact) + [rows for rows, _ in near], groups)


def paired_splits(splits, groups) -> list:
    """``splits`` with only the rows of straddling groups moved: in each K-fold round (test sets
    that cover the rows once), every group (``groups``: an id per row, e.g. :func:`leak_groups`)
    goes whole to the test fold of its first row; every other row keeps its fold. No group
    straddling: the same splits, so grouped and ungrouped scores are equal by construction."""
    groups = np.asarray(groups)
    n = len(groups)
    _, first = np.unique(groups, return_index=True)
    anchor = first[np.unique(groups, return_inverse=True)[1]]  # each row's group's first row
    out, fold_of, k = [], np.full(n, -1), 0
    for train, test in splits:
        fold_of[np.asarray(test)] = k
        k += 1
        if (fold_of >= 0).all():
            fold_of = fold_of[anchor]
            out += [(np.flatnonzero(fold_of != f), np.flatnonzero(fold_of == f)) for f in range(k)]
            fold_of, k = np.full(n, -1), 0
    if k:  # folds that do not cover every row: left as they are
        out.extend((np.asarray(a), np.asarray(b)) for a, b in list(splits)[len(out):])
    return out


def paired_difference(y, pred_plain, pred_grouped, proba_plain, proba_grouped, metric: str, *, n_boot: int = 500,
                      seed: int = 0) -> tuple[float, list]:
    """Ungrouped minus grouped ``metric`` on the same rows' out-of-fold predictions, and its 95%
    interval: a paired bootstrap (rows resampled once for both) that, with repeated CV
    (``pred_*`` of shape (repeats, n), ``proba_*`` (repeats, n, k)), also resamples the
    repetitions, so fold noise and row noise are both in the interval. The difference is the
    mean over repetitions of each repetition's difference."""
    from featx.classify._metrics import fold_metrics

    pp, pg = np.atleast_2d(pred_plain), np.atleast_2d(pred_grouped)
    qp = None if proba_plain is None else (proba_plain[None] if np.ndim(proba_plain) == 2 else np.asarray(proba_plain))
    qg = None if proba_grouped is None else (proba_grouped[None] if np.ndim(proba_grouped) == 2 else np.asarray(proba_grouped))
    labels = np.arange(qp.shape[2]) if qp is not None else np.unique(y)

    def score(r, rows, pred, proba):
        p = None if proba is None else proba[r, rows]
        return fold_metrics(y[rows], pred[r, rows], p, p, labels, metrics=(metric,))[metric]

    reps, every = pp.shape[0], np.arange(len(y))
    per_rep = [score(r, every, pp, qp) - score(r, every, pg, qg) for r in range(reps)]
    rng = np.random.default_rng(seed)
    boots = []
    for _ in range(n_boot):
        rows = rng.integers(0, len(y), len(y))
        which = rng.integers(0, reps, reps) if reps > 1 else [0]
        boots.append(np.mean([score(r, rows, pp, qp) - score(r, rows, pg, qg) for r in which]))
    lo, hi = np.nanpercentile(boots, [2.5, 97.5])
    return float(np.mean(per_rep)), [float(lo), float(hi)]


def audit(feature_set, paths, *, sha256=None, phash=None, head="logreg", folds: int = 5, repeats: int = 1, seed: int = 0,
          metric: str = "balanced_accuracy", rule: NearDuplicateRule | None = None, n_outliers: int = 20,
          jobs: int = 1, bins: int = 10, prune: bool = True, image_stats=None, quality=None) -> Audit:
    """Audit ``feature_set`` (its ``groups`` are the user's, if any); ``paths`` name its rows.

    ``sha256`` (content hashes) finds exact copies; ``phash`` (``featx.extract.phash_files``)
    sharpens near-duplicate detection; ``repeats`` repeats the K-fold (derived seeds) for the
    leak interval and the out-of-fold probabilities; ``image_stats`` (the pixel statistics of
    ``featx.extract.scan_files``, one row per row) gives the image-quality issues, judged with
    ``quality`` (a :class:`~featx.classify.audits._quality.QualityThresholds`). Two CVs of ``head`` on the same seed: plain (the user's
    groups) and leak-proof (clusters as groups); calibration uses the leak-proof out-of-fold
    probabilities, and so do the label issues, after ``prune`` (confident learning's prune, then
    retrain: a third CV with the first pass's issues left out of training, every row scored;
    :func:`prune_and_rescore`).
    """
    from featx.classify.cv._cv import cross_validate_head
    from featx.classify._features import FeatureSet
    from featx.classify.cv._splits import make_splitter

    fs = feature_set.check_labelled()
    rule = rule or NearDuplicateRule()
    Z = reduce_features(fs.X, seed=seed)
    knn = neighbours(Z, max(rule.candidates, 10)) if fs.n_samples > 1 else None  # one search for both checks
    exact, near = cluster_rows(fs.X, sha256=sha256, phash=phash, rule=rule, Z=Z, knn=knn)
    grouped = leak_groups(fs.n_samples, exact, near, fs.groups)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ClassifyWarning)  # capped folds are the same for both runs
        plain_splits = make_splitter(fs.y, fs.groups, folds=folds, repeats=repeats, seed=seed, class_names=fs.class_names)
        grouped_fs = FeatureSet(fs.name, fs.X, fs.y, fs.class_names, groups=grouped, keys=fs.keys, meta=fs.meta)
        # paired folds: only the members of straddling clusters move (see paired_splits)
        safe_splits = paired_splits(plain_splits, grouped)
        safe = cross_validate_head(grouped_fs, head, splits=safe_splits, seed=seed, metric=metric, probability=True, jobs=jobs)
        plain = cross_validate_head(fs, head, splits=plain_splits, seed=seed, metric=metric, probability=True, jobs=jobs)
    clusters = list(exact) + [rows for rows, _ in near]
    moved = sum(int((np.asarray(a[1]) != np.asarray(b[1])).any()) if len(a[1]) == len(b[1]) else 1
                for a, b in zip(plain_splits, safe_splits))
    diff, interval = paired_difference(fs.y, plain.oof_pred, safe.oof_pred, plain.oof_proba, safe.oof_proba, metric, seed=seed)
    leak = {"straddling_clusters": straddling(clusters, plain_splits), "score_grouped": safe.mean(metric),
            "score_ungrouped": plain.mean(metric), "metric": metric, "difference": diff, "interval": interval,
            "folds_changed": moved, "repeats": int(repeats)}
    proba = mean_oof_proba(safe.oof_proba)

    def rescore(splits):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ClassifyWarning)
            return cross_validate_head(grouped_fs, head, splits=splits, seed=seed, metric=metric, probability=True, jobs=jobs)

    if prune:
        issues, label_proba = prune_and_rescore(fs.y, proba, safe.fold_indices, rescore)
    else:
        issues, label_proba = find_label_issues(fs.y, proba), proba
    scores = knn_outliers(fs.X, Z=Z, knn=knn)
    top = np.argsort(-scores, kind="stable")[:n_outliers]
    calib = calibration(fs.y, proba, bins=bins)
    quality_issues = [] if image_stats is None else image_issues(image_stats, thresholds=quality)
    findings = run_audit_checks(make_context(
        feature_set=fs, X=fs.X, labels=fs.y, class_names=tuple(fs.class_names), paths=tuple(paths), groups=fs.groups,
        Z=Z, knn=knn, exact=tuple(tuple(c) for c in exact), near=tuple(near), leak_groups=grouped,
        oof_pred=safe.oof_pred[0], oof_proba=proba, head=safe.head, label_issues=issues, outlier_scores=scores,
        calibration=dict(calib), leak=dict(leak), image_stats=image_stats, seed=seed, outliers=top,
        image_issues=tuple(quality_issues)))
    return Audit(paths=list(paths), class_names=list(fs.class_names), exact=exact, near=near, label_issues=issues,
                 outliers=top, outlier_scores=scores, calibration=calib, leak=leak,
                 oof_pred=safe.oof_pred[0], oof_proba=proba, labels=fs.y, head=safe.head, pruned=label_proba is not proba,
                 image_issues=quality_issues, findings=findings)
