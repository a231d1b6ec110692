"""Successive halving against the full grid (cv.search = "halving" vs "grid") on the card heads.

Synthetic features (make_classification: N rows, C classes, D dims, informative in a tenth of the
dims), a stratified 75/25 split; each search runs the head's default grid (featx.classify's grids,
no PCA) with 3 inner folds on the 75%, refits its best configuration and is scored on the 25%
held-out rows (balanced accuracy, with a 95% bootstrap interval). Reports wall seconds, the cost
ratio halving/grid and both chosen configurations, side by side in one run.

    .venv/bin/python benchmarks/bench_halving.py --n 4000 --classes 10 --dims 1280 --heads logreg svm rf xgb
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.datasets import make_classification
from sklearn.model_selection import StratifiedKFold, train_test_split

from featx.classify import bootstrap_scores, make_head
from featx.classify.cv._cv import make_search
from featx.classify.heads._grids import resolve_grid


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=4000)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--dims", type=int, default=1280)
    ap.add_argument("--heads", nargs="+", default=["logreg", "svm", "rf", "xgb"])
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    X, y = make_classification(n_samples=a.n, n_features=a.dims, n_informative=max(2, a.dims // 10), n_classes=a.classes,
                               n_clusters_per_class=1, class_sep=0.8, random_state=a.seed)
    X = X.astype(np.float32)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.25, stratify=y, random_state=a.seed)
    inner = list(StratifiedKFold(3, shuffle=True, random_state=a.seed).split(Xtr, ytr))
    print(f"N={a.n} classes={a.classes} dims={a.dims}; train {len(ytr)}, held out {len(yte)}")
    for head in a.heads:
        grid = resolve_grid(head, pca=None)
        row = {}
        for search in ("grid", "halving"):
            est = make_head(head, random_state=a.seed, n_jobs=1)
            s = make_search(est, grid, search=search, n_iter=10, inner=inner, seed=a.seed, metric="balanced_accuracy")
            t0 = time.perf_counter()
            s.fit(Xtr, ytr)
            sec = time.perf_counter() - t0
            sc = bootstrap_scores(yte, s.predict(Xte), None, a.classes, ["balanced_accuracy"])["balanced_accuracy"]
            row[search] = (sec, sc, s.best_params_)
        (gs, gsc, gp), (hs, hsc, hp) = row["grid"], row["halving"]
        print(f"{head}: grid {gs:.1f}s bal.acc {gsc['mean']:.3f} [{gsc['ci95_low']:.3f}, {gsc['ci95_high']:.3f}] {gp} | "
              f"halving {hs:.1f}s bal.acc {hsc['mean']:.3f} [{hsc['ci95_low']:.3f}, {hsc['ci95_high']:.3f}] {hp} | "
              f"cost ratio {hs / gs:.2f}", flush=True)


if __name__ == "__main__":
    main()
