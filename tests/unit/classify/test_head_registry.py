"""The head registry: one register_head call gives make_head, the default grid, the CV, the
settings' head list and the plot colour table a new head; unknown names stay one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.linear_model import RidgeClassifier
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from featx.classify import (DEFAULT_GRIDS, HEAD_COLOURS, HEAD_LIST, HEADS, FeatureSet, ParameterError, UnknownHeadError,
                            cross_validate_head, head_spec, list_heads, make_head, register_head, resolve_grid,
                            unregister_head)
from featx.common import OptionError

BUILTIN = ("logreg", "svm", "svm_rbf", "rf", "xgb", "knn", "ridge", "centroid")


@pytest.fixture
def myknn():
    register_head("myknn", KNeighborsClassifier, grid={"clf__n_neighbors": [1, 3]}, colour="#00ffcc",
                  help="my k nearest neighbours", defaults={"n_neighbors": 3})
    yield "myknn"
    unregister_head("myknn")


def _blobs(n_per_class=12, dim=6, seed=0) -> FeatureSet:
    rng = np.random.default_rng(seed)
    centres = np.eye(3, dim) * 6
    X = np.vstack([c + rng.normal(size=(n_per_class, dim)) for c in centres]).astype(np.float32)
    y = np.repeat(np.arange(3), n_per_class)
    return FeatureSet("blobs", X, y, ["a", "b", "c"])


def test_builtin_heads_are_registered_in_order_with_grid_and_colour():
    assert tuple(HEADS) == BUILTIN and list_heads() == list(BUILTIN) and list_heads("svm*") == ["svm", "svm_rbf"]
    assert set(DEFAULT_GRIDS) == set(HEAD_COLOURS) == set(BUILTIN)
    assert HEAD_COLOURS["xgb"] == "#ff7f0e" and DEFAULT_GRIDS["ridge"]["clf__alpha"] == [0.1, 1.0, 10.0, 100.0, 1000.0]
    assert head_spec("svm").calibrate and not head_spec("logreg").calibrate


def test_a_registered_head_reaches_make_head_grid_settings_and_colours(myknn):
    assert HEADS[-1] == "myknn" and "myknn" in HEADS and HEAD_COLOURS["myknn"] == "#00ffcc"
    pipe = make_head("myknn", pca=2, n_jobs=1)
    assert [n for n, _ in pipe.steps] == ["scale", "pca", "clf"]
    clf = pipe.named_steps["clf"]
    assert isinstance(clf, KNeighborsClassifier) and clf.n_neighbors == 3 and clf.n_jobs == 1  # n_jobs: it takes one
    assert make_head("myknn", n_neighbors=7).named_steps["clf"].n_neighbors == 7
    assert resolve_grid("myknn", pca=None) == {"clf__n_neighbors": [1, 3]}
    assert HEAD_LIST.check(["logreg", "myknn"]) == ("logreg", "myknn")  # what the spec and --heads accept
    with pytest.raises(ParameterError, match=r"unknown parameter of head 'myknn': 'k'"):
        make_head("myknn", k=3)


def test_cv_runs_a_registered_head_with_its_grid(myknn):
    fs = _blobs()
    plain = cross_validate_head(fs, "myknn", folds=3, seed=0)
    nested = cross_validate_head(fs, "myknn", folds=3, seed=0, nested=True, inner_folds=2)
    same = cross_validate_head(fs, ("ref", make_pipeline(StandardScaler(), KNeighborsClassifier(n_neighbors=3))),
                               folds=3, seed=0)
    assert plain.head == "myknn" and len(plain.metrics["accuracy"]["folds"]) == 3
    assert plain.metrics["accuracy"]["folds"] == same.metrics["accuracy"]["folds"]
    assert plain.metrics["accuracy"]["mean"] > 0.9  # three well separated blobs
    assert {json.dumps(p) for p in nested.best_params} <= {'{"clf__n_neighbors": 1}', '{"clf__n_neighbors": 3}'}
    assert len(nested.best_params) == 3


def test_a_decorated_factory_with_calibration_gets_probabilities():
    @register_head("myridge", grid={"clf__alpha": [0.1, 10.0]}, calibrate=True)
    def _ridge(**params):
        return RidgeClassifier(**params)

    try:
        assert head_spec("myridge").colour.startswith("#") and HEAD_COLOURS["myridge"] == head_spec("myridge").colour
        assert not head_spec("myridge").seeded  # the function takes no random_state
        assert not hasattr(make_head("myridge"), "predict_proba") or not hasattr(
            make_head("myridge").named_steps["clf"], "predict_proba")
        fitted = make_head("myridge", probability=True).fit(_blobs().X, _blobs().y)
        assert fitted.predict_proba(_blobs().X).shape == (36, 3)
        assert resolve_grid("myridge", pca=None, probability=True) == {"clf__estimator__alpha": [0.1, 10.0]}
    finally:
        unregister_head("myridge")
    assert "myridge" not in HEADS and "myridge" not in HEAD_COLOURS and "myridge" not in DEFAULT_GRIDS


def test_registration_errors_are_one_line():
    with pytest.raises(ParameterError, match=r"^head 'logreg' is already registered; pick another name or pass replace=True$"):
        register_head("logreg", KNeighborsClassifier)
    with pytest.raises(ParameterError, match=r"colour of head 'x' must be '#rrggbb', got 'red'"):
        register_head("x", KNeighborsClassifier, colour="red")
    with pytest.raises(ParameterError, match=r"grid of head 'x' must be a dict of Pipeline parameter"):
        register_head("x", KNeighborsClassifier, grid={"n_neighbors": [1]})
    with pytest.raises(ParameterError, match=r"head 'logreg' is built in"):
        unregister_head("logreg")
    assert "x" not in HEADS


def test_unknown_head_lists_the_registered_names(myknn):
    with pytest.raises(UnknownHeadError, match=r"^unknown head 'myknm'; did you mean 'myknn'\? choose from: .*myknn"):
        make_head("myknm")
    unregister_head("myknn")
    with pytest.raises(OptionError, match="myknn"):
        HEAD_LIST.check(["myknn"])
    register_head("myknn", KNeighborsClassifier)  # for the fixture's teardown
