"""cv.search = "halving": successive halving over the head's grid (scikit-learn's HalvingGridSearchCV)."""

from __future__ import annotations

import pytest

from featx.classify import cross_validate_head
from featx.classify.cv._cv import make_search

GRID = {"clf__n_neighbors": [3, 7, 15], "clf__weights": ["uniform", "distance"]}


def test_halving_search_picks_a_grid_configuration_per_outer_fold(hard_fs):
    r = cross_validate_head(hard_fs, "knn", nested=True, search="halving", folds=3, seed=1)
    assert len(r.best_params) == 3
    for params in r.best_params:
        assert set(params) == set(GRID) and all(params[k] in GRID[k] for k in GRID)
    assert r.config["search"] == "halving"


def test_halving_runs_rounds_on_growing_subsets():
    import numpy as np
    from sklearn.datasets import make_classification
    from sklearn.model_selection import StratifiedKFold
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import Pipeline

    X, y = make_classification(n_samples=600, n_features=10, n_informative=5, n_classes=3, random_state=0)
    s = make_search(Pipeline([("clf", KNeighborsClassifier())]), GRID, search="halving", n_iter=10,
                    inner=list(StratifiedKFold(3, shuffle=True, random_state=0).split(X, y)), seed=0, metric="accuracy")
    s.fit(X, y)
    assert s.n_iterations_ >= 2 and list(s.n_candidates_)[0] == 6 and s.n_resources_[-1] > s.n_resources_[0]
    assert s.best_params_["clf__n_neighbors"] in GRID["clf__n_neighbors"] and np.isfinite(s.best_score_)


def test_an_unknown_search_is_refused_with_the_choices():
    from featx.classify.heads._grids import check_search

    from featx.classify import ParameterError

    with pytest.raises(ParameterError, match=r"^unknown search 'halvng'; did you mean 'halving'\? choose from: grid, halving, random$"):
        check_search("halvng")
