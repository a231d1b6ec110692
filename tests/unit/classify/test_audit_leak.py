"""The leak score of featx run's audit (audit_configuration) is featx audit's: paired folds,
the difference with a 95% interval over rows and CV repetitions; equal at zero clusters."""

import numpy as np
import pytest

from featx.classify import FeatureSet, audit, audit_configuration, cluster_rows, cross_validate_head, make_splitter


def _blobs(n=80, seed=0):
    rng = np.random.RandomState(seed)
    y = np.arange(n) % 2
    return rng.randn(n, 16) + 0.8 * y[:, None], y


def _rerun(f, s):
    return cross_validate_head(f, "logreg", splits=s, seed=0, probability=True)


@pytest.mark.parametrize("mode", ["warn", "group"])
def test_zero_clusters_give_equal_scores_and_a_zero_interval_with_repeats(mode):
    X, y = _blobs()
    fs = FeatureSet("x", X, y, ["a", "b"])
    splits = make_splitter(y, None, folds=4, repeats=3, seed=0)
    result = _rerun(fs, splits)
    leak = audit_configuration(fs, result, splits, exact=[], near=[], cross_validate=_rerun, mode=mode, folds=4,
                               repeats=3, prune=False)["leak"]
    assert leak["score_grouped"] == leak["score_ungrouped"] == pytest.approx(result.mean("balanced_accuracy"))
    assert leak["difference"] == 0.0 and leak["interval"] == [0.0, 0.0] and leak["repeats"] == 3 and leak["paired"]


def test_run_and_audit_give_the_same_leak_difference_and_interval():
    X, y = _blobs()
    X[40:60] = X[0:20] + 1e-4 * np.random.RandomState(1).randn(20, 16)  # 20 copies
    y[40:60] = y[0:20]
    fs = FeatureSet("x", X, y, ["a", "b"])
    exact, near = cluster_rows(X)
    assert len(near) == 20
    via_audit = audit(fs, [f"{i}" for i in range(80)], folds=4, repeats=2, seed=0, prune=False).leak
    splits = make_splitter(y, None, folds=4, repeats=2, seed=0)
    via_run = audit_configuration(fs, _rerun(fs, splits), splits, exact=exact, near=near, cross_validate=_rerun,
                                  folds=4, repeats=2, seed=0, prune=False)["leak"]
    assert via_run["straddling_clusters"] == via_audit["straddling_clusters"] > 0
    assert via_run["difference"] == pytest.approx(via_audit["difference"])
    assert via_run["interval"] == pytest.approx(via_audit["interval"])
    lo, hi = via_run["interval"]
    assert lo <= via_run["difference"] <= hi and via_run["difference"] == pytest.approx(
        via_run["score_ungrouped"] - via_run["score_grouped"], abs=0.05)
