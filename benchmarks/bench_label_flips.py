"""Label-flip detection of ``featx audit`` over many random flip draws on one extracted set.

Builds the planted hymenoptera set of the e2e test once (``tests/e2e/audit_planted.py``: exact
copies, near-duplicates, 5% flips) under ``--workdir``, extracts it with the default backbone
once, then per draw restores the planted flips, flips ``--flips`` other original photos in
memory and runs the audit's label-issue step on the cached features: the leak-proof CV of the
head (exact and near-duplicate clusters as groups, ``--folds``, seed 0) and confident learning,
without (``first``, the old default) and with prune-and-rescore (``pruned``, the default).
``hit`` is the fraction of the flips within the top 1.5 x n_flips label issues (the issue's
target: >= 0.9). ``ceiling`` is the fraction of the flipped photos that the same CV on the true
labels classifies correctly (a flip of a photo the model gets wrong anyway looks right).

    .venv/bin/python benchmarks/bench_label_flips.py --set A --draws 12
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402

SETS = {"A": {"seed": 0, "n_near": 40}, "B": {"seed": 1, "n_near": 80}}  # A: calibration, B: the e2e test's set


def prepared(workdir: str, name: str):
    """(cache path, truth) of planted set ``name``, built and extracted on first use."""
    from featx.extract import extract

    sys.path.insert(0, os.path.join(C.REPO, "tests", "e2e"))
    from audit_planted import build_planted

    root, cache, truth_path = (os.path.join(workdir, name + s) for s in ("", ".h5", ".truth.json"))
    if not os.path.exists(truth_path):
        truth = build_planted(C.HYMENOPTERA, root, **SETS[name])
        with open(truth_path, "w") as fh:
            json.dump(truth, fh)
    if not os.path.exists(cache):
        extract(root, cache, progress=False)
    with open(truth_path) as fh:
        return cache, root, json.load(fh)


def main(argv=None) -> int:
    import numpy as np

    from featx.classify import (ClassifyWarning, FeatureSet, cluster_rows, cross_validate_head, find_label_issues,
                                leak_groups, mean_oof_proba, prune_and_rescore)
    from featx.extract import phash_files, read_cache

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--set", default="A", choices=sorted(SETS), help="planted set (A: seed 0, B: seed 1)")
    p.add_argument("--draws", type=int, default=12, help="random flip draws")
    p.add_argument("--flips", type=int, default=20, help="labels flipped per draw (20 = 5%% of hymenoptera)")
    p.add_argument("--head", default="logreg")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--workdir", default="/tmp/audit_feats", help="git-ignored folder for the planted set and its cache")
    args = p.parse_args(argv)
    warnings.simplefilter("ignore", ClassifyWarning)
    os.makedirs(args.workdir, exist_ok=True)
    C.header("label flips", vars(args))
    cache, root, truth = prepared(args.workdir, args.set)
    data = read_cache(cache)
    layer = list(data.features)[-1]
    paths = list(data.paths)
    X, given = data.features[layer], data.labels
    planted_flips = {p for p in truth["flips"]}
    y_true = np.array([1 - y if p in planted_flips else y for p, y in zip(paths, given)])  # two classes
    exact, near = cluster_rows(X, sha256=data.hashes, phash=phash_files(paths, root))
    groups = leak_groups(len(paths), exact, near)
    copies = {p for pair in truth["exact"] + truth["near"] for p in pair}
    eligible = np.array([i for i, p in enumerate(paths) if p not in copies])  # originals in no planted pair

    def cv(y, splits=None):
        fs = FeatureSet(layer, X, y, data.class_names, groups=groups)
        return cross_validate_head(fs, args.head, folds=args.folds, seed=0, splits=splits, probability=True)

    clean = cv(y_true)
    correct = mean_oof_proba(clean.oof_proba).argmax(axis=1) == y_true
    top = int(1.5 * args.flips)
    hits = {"first": [], "pruned": [], "ceiling": []}
    for d in range(args.draws):
        t0 = time.perf_counter()
        flips = np.random.default_rng(100 + d).choice(eligible, args.flips, replace=False)
        y = y_true.copy()
        y[flips] = 1 - y[flips]
        first = cv(y)
        t_first = time.perf_counter() - t0
        base = find_label_issues(y, first.oof_proba)
        pruned, _ = prune_and_rescore(y, first.oof_proba, first.fold_indices, lambda s, y=y: cv(y, s))
        total = time.perf_counter() - t0
        row = {"first": np.isin(flips, base.rows[:top]).mean(), "pruned": np.isin(flips, pruned.rows[:top]).mean(),
               "ceiling": correct[flips].mean()}
        for k, v in row.items():
            hits[k].append(v)
        C.result("draw", set=args.set, draw=d, **row, issues_first=len(base.rows), issues_pruned=len(pruned.rows),
                 cost_ratio=total / t_first, load=C.load())
    for k, v in hits.items():
        v = np.array(v)
        C.result("summary", set=args.set, method=k, mean=v.mean(), min=v.min(), max=v.max(), draws_ge_090=int((v >= 0.9).sum()),
                 draws=len(v))
    return 0


if __name__ == "__main__":
    sys.exit(main())
