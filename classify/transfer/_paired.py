"""Paired comparisons of two approaches scored on the same held-out rows: the difference in a
metric with a paired-bootstrap 95% interval (one resample of the images serves both approaches;
with several held-out folds the rows are resampled within each fold) and McNemar's exact p-value
on the correct/incorrect pairs (accuracy).

Parts are the held-out predictions of one approach, one per fold: ``{"test", "pred", "proba"}``
(as :func:`heldout_record` takes them); each fold pairs the rows both sides scored.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import binomtest

from featx.classify._metrics import LOWER_IS_BETTER
from featx.classify.transfer._bootstrap import N_BOOT, fast_metric


def _aligned(parts_a, parts_b):
    """Per fold: (test rows, pred a, pred b, proba a, proba b) with b put in a's row order."""
    if len(parts_a) != len(parts_b):
        raise ValueError(f"paired comparison needs the same folds on both sides ({len(parts_a)} vs {len(parts_b)})")
    out = []
    for pa, pb in zip(parts_a, parts_b):
        ta, tb = np.asarray(pa["test"], dtype=np.int64), np.asarray(pb["test"], dtype=np.int64)
        order = {r: i for i, r in enumerate(tb.tolist())}
        i = np.array([k for k, r in enumerate(ta.tolist()) if r in order], dtype=np.int64)  # rows both sides scored
        if not len(i):
            raise ValueError("paired comparison needs held-out rows that both sides scored")
        j = np.array([order[r] for r in ta[i].tolist()], dtype=np.int64)
        proba = [None if p.get("proba") is None else np.asarray(p["proba"], dtype=np.float64) for p in (pa, pb)]
        out.append((ta[i], np.asarray(pa["pred"], dtype=np.int64)[i], np.asarray(pb["pred"], dtype=np.int64)[j],
                    None if proba[0] is None else proba[0][i], None if proba[1] is None else proba[1][j]))
    return out


def mcnemar_exact(correct_a, correct_b) -> float:
    """McNemar's exact two-sided p-value: a binomial test of the discordant pairs (1.0 when none)."""
    a, b = np.asarray(correct_a, dtype=bool), np.asarray(correct_b, dtype=bool)
    only_a, only_b = int(np.sum(a & ~b)), int(np.sum(~a & b))
    n = only_a + only_b
    return 1.0 if n == 0 else float(binomtest(only_a, n, 0.5).pvalue)


def paired_difference(y, parts_a, parts_b, n_classes: int, metric: str, *, n_boot: int = N_BOOT, seed: int = 0) -> dict:
    """``metric(a) - metric(b)`` on the pooled held-out rows: ``{"delta", "ci95": [low, high],
    "p_value", "verdict"}``; ``verdict`` is "better", "worse" (a against b, in the metric's own
    direction) or "no detectable difference" (the interval holds 0)."""
    y = np.asarray(y, dtype=np.int64)
    folds = _aligned(parts_a, parts_b)
    rows = np.concatenate([f[0] for f in folds])
    pa, pb = np.concatenate([f[1] for f in folds]), np.concatenate([f[2] for f in folds])
    probas = [f[3] for f in folds] + [f[4] for f in folds]
    has_p = all(p is not None for p in probas)
    qa = np.concatenate([f[3] for f in folds]) if has_p else None
    qb = np.concatenate([f[4] for f in folds]) if has_p else None
    yt, k = y[rows], int(n_classes)

    def delta(idx):
        sa = None if qa is None else qa[idx]
        sb = None if qb is None else qb[idx]
        return fast_metric(metric, yt[idx], pa[idx], sa, k) - fast_metric(metric, yt[idx], pb[idx], sb, k)

    point = delta(np.arange(len(yt)))
    starts = np.cumsum([0] + [len(f[0]) for f in folds])
    rng = np.random.default_rng(int(seed))
    draws = []
    for _ in range(int(n_boot) if len(yt) else 0):
        idx = np.concatenate([rng.integers(lo, hi, hi - lo) for lo, hi in zip(starts[:-1], starts[1:])])
        d = delta(idx)
        if not math.isnan(d):
            draws.append(d)
    lo, hi = (float(np.percentile(draws, 2.5)), float(np.percentile(draws, 97.5))) if draws else (math.nan, math.nan)
    p = mcnemar_exact(pa == yt, pb == yt)
    return {"delta": float(point), "ci95": [lo, hi], "p_value": p, "verdict": paired_verdict(metric, lo, hi)}


def paired_verdict(metric: str, low: float, high: float) -> str:
    """"better" / "worse" / "no detectable difference" from a paired interval of a - b."""
    if math.isnan(low) or math.isnan(high) or low <= 0 <= high:
        return "no detectable difference"
    up = low > 0
    return ("worse" if up else "better") if metric in LOWER_IS_BETTER else ("better" if up else "worse")


def paired_comparisons(records, units, y, n_classes: int, metric: str, *, describe, n_boot: int = N_BOOT,
                       seed: int = 0) -> None:
    """Adds to each record (``units[i]``: its held-out parts) the paired comparison against the
    best frozen record (``vs``, ``delta_vs_frozen``, ``delta_ci95``, ``p_value``, ``paired``:
    the verdict word) and, for pretrained approaches, against the best scratch record
    (``vs_scratch`` = ``{"vs", "delta", "ci95", "p_value", "verdict"}``). In place."""
    sign = -1.0 if metric in LOWER_IS_BETTER else 1.0

    def best(approach):
        idx = [i for i, r in enumerate(records) if r["approach"] == approach and not math.isnan(r.get(f"{metric}_mean", math.nan))]
        return max(idx, key=lambda i: sign * records[i][f"{metric}_mean"], default=None)

    frozen, scratch = best("frozen"), best("scratch")
    for i, rec in enumerate(records):
        if frozen is not None and i != frozen:
            d = paired_difference(y, units[i], units[frozen], n_classes, metric, n_boot=n_boot, seed=seed)
            rec.update({"vs": describe(records[frozen]), "delta_vs_frozen": d["delta"], "delta_ci95": d["ci95"],
                        "p_value": d["p_value"], "paired": d["verdict"]})
        if scratch is not None and i != scratch and rec["approach"] != "scratch":
            d = paired_difference(y, units[i], units[scratch], n_classes, metric, n_boot=n_boot, seed=seed)
            rec["vs_scratch"] = {"vs": describe(records[scratch]), "delta": d["delta"], "ci95": d["ci95"],
                                 "p_value": d["p_value"], "verdict": d["verdict"]}
