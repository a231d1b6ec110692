"""The metric the nested search tunes is the metric results are ranked by (or ``search_metric``)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.metrics import get_scorer

from featx.classify import FeatureSet, MetricScorer, ParameterError, compare, cross_validate_head, fit_bundle, make_head

GRID = {"clf__class_weight": [None, "balanced"]}


@pytest.fixture(scope="module")
def imbalanced() -> FeatureSet:
    """85/15 classes that overlap: accuracy prefers unweighted logreg (it mostly predicts the majority),
    balanced accuracy prefers class_weight='balanced'."""
    X, y = make_classification(n_samples=200, n_features=10, n_informative=3, weights=[0.85, 0.15], class_sep=0.5,
                               flip_y=0, random_state=0)
    return FeatureSet("imbalanced", X, y, ["major", "minor"])


def _weights(result):
    return [p["clf__class_weight"] for p in result.best_params]


def test_search_metric_changes_the_chosen_parameters(imbalanced):
    by_accuracy = cross_validate_head(imbalanced, "logreg", nested=True, grid=GRID, search_metric="accuracy")
    by_balanced = cross_validate_head(imbalanced, "logreg", nested=True, grid=GRID, search_metric="balanced_accuracy")
    by_log_loss = cross_validate_head(imbalanced, "logreg", nested=True, grid=GRID, search_metric="log_loss")
    assert _weights(by_accuracy) == [None] * 5
    assert _weights(by_balanced) == ["balanced"] * 5
    assert _weights(by_log_loss) == [None] * 5  # lower is better: the search minimises log loss
    # and each choice pays off on the metric it was tuned for
    assert by_accuracy.mean("accuracy") > by_balanced.mean("accuracy")
    assert by_balanced.mean("balanced_accuracy") > by_accuracy.mean("balanced_accuracy")
    assert by_accuracy.config["search_metric"] == "accuracy" and by_accuracy.config["metric"] == "balanced_accuracy"


def test_the_search_follows_the_ranking_metric_by_default(imbalanced):
    ranked = cross_validate_head(imbalanced, "logreg", nested=True, grid=GRID, metric="accuracy")
    assert ranked.config["search_metric"] == "accuracy" and _weights(ranked) == [None] * 5
    default = cross_validate_head(imbalanced, "logreg", nested=True, grid=GRID)
    assert default.config["metric"] == default.config["search_metric"] == "balanced_accuracy"
    assert _weights(default) == ["balanced"] * 5
    assert cross_validate_head(imbalanced, "logreg").config["search_metric"] is None  # no search

    cmp = compare(imbalanced, ["logreg"], nested=True, grids={"logreg": GRID}, metric="accuracy")
    assert _weights(cmp.get("imbalanced", "logreg")) == [None] * 5
    assert cmp.metric == "accuracy" and cmp.best() is cmp.sorted("accuracy")[0]
    cmp = compare(imbalanced, ["logreg"], nested=True, grids={"logreg": GRID}, metric="accuracy", search_metric="balanced_accuracy")
    assert _weights(cmp.get("imbalanced", "logreg")) == ["balanced"] * 5


def test_fit_bundle_searches_by_its_search_metric(imbalanced):
    bacc = fit_bundle(imbalanced, "logreg", search=True, grid=GRID, folds=5)
    acc = fit_bundle(imbalanced, "logreg", search=True, grid=GRID, folds=5, search_metric="accuracy")
    assert bacc.params["best_params"]["clf__class_weight"] == "balanced"
    assert bacc.params["search_metric"] == "balanced_accuracy"
    assert acc.params["best_params"]["clf__class_weight"] is None and acc.params["search_metric"] == "accuracy"
    rand = fit_bundle(imbalanced, "logreg", search=True, grid=GRID, folds=5, search_method="random", n_iter=4)
    assert rand.params["best_params"]["clf__class_weight"] == "balanced" and rand.params["search_method"] == "random"


def test_fit_bundle_search_keeps_error_score_and_names_the_failure(imbalanced):
    from featx.classify import GridError

    # every candidate fails: the shared search builder turns sklearn's error into one GridError line
    with pytest.raises(GridError, match=r"every candidate of the grid failed on the 200 training rows .*'C' parameter"):
        fit_bundle(imbalanced, "logreg", search=True, grid={"clf__C": [-1.0, -2.0]}, folds=3)
    # one failing candidate scores NaN (error_score) and the other one wins
    ok = fit_bundle(imbalanced, "logreg", search=True, grid={"clf__C": [-1.0, 1.0]}, folds=3)
    assert ok.params["best_params"] == {"clf__C": 1.0}
    assert np.isfinite(ok.params["search_score"])


def test_bad_search_metrics_are_refused_before_any_fit(imbalanced):
    with pytest.raises(ParameterError, match=r"unknown search_metric 'accurcy'; did you mean 'accuracy'"):
        cross_validate_head(imbalanced, "logreg", nested=True, search_metric="accurcy")
    with pytest.raises(ParameterError, match=r"unknown metric 'bacc'"):
        compare(imbalanced, ["logreg"], metric="bacc")
    with pytest.raises(ParameterError, match=r"search_metric='log_loss' needs probabilities, which head 'svm' does not give"):
        cross_validate_head(imbalanced, "svm", nested=True, search_metric="log_loss")
    with pytest.raises(ParameterError, match=r"unknown metric 'f1'"):
        fit_bundle(imbalanced, "logreg", search=True, search_metric="f1")


@pytest.mark.parametrize("metric,sk", [("accuracy", "accuracy"), ("balanced_accuracy", "balanced_accuracy"),
                                       ("roc_auc", "roc_auc"), ("log_loss", "neg_log_loss")])
def test_metric_scorer_agrees_with_sklearn_where_both_apply(imbalanced, metric, sk):
    est = make_head("logreg").fit(imbalanced.X[:150], imbalanced.y[:150])
    X, y = imbalanced.X[150:], imbalanced.y[150:]
    ours = MetricScorer(metric)(est, X, y)
    theirs = get_scorer(sk)(est, X, y)
    assert ours == pytest.approx(theirs, rel=1e-6)
    assert MetricScorer(metric, greater_is_better=False)(est, X, y) == pytest.approx(abs(theirs), rel=1e-6)


def test_metric_scorer_is_nan_where_the_metric_does_not_apply(imbalanced):
    est = make_head("svm").fit(imbalanced.X, imbalanced.y)  # no predict_proba
    assert np.isnan(MetricScorer("log_loss")(est, imbalanced.X, imbalanced.y))
    one_class = imbalanced.y == 0
    assert np.isnan(MetricScorer("roc_auc")(est, imbalanced.X[one_class], imbalanced.y[one_class]))
