"""Default grids are plain data that fit every head; overrides are checked against get_params()."""

from __future__ import annotations

import json

import pytest

from featx.classify import DEFAULT_GRIDS, HEADS, PCA_GRID, GridError, UnknownHeadError, make_head, resolve_grid


def test_default_grids_are_plain_json_data_for_every_head():
    assert set(DEFAULT_GRIDS) == set(HEADS)
    json.dumps(DEFAULT_GRIDS)  # plain data, no estimators or distributions


@pytest.mark.parametrize("head", HEADS)
def test_every_default_key_and_value_sets_on_the_pipeline(head):
    pipe = make_head(head, pca=0.95)
    params = pipe.get_params()
    for key, values in DEFAULT_GRIDS[head].items():
        assert key in params, key
        assert isinstance(values, list) and values
        for v in values:
            pipe.set_params(**{key: v})


def test_pca_modes():
    assert resolve_grid("logreg")["pca__n_components"] == PCA_GRID  # default: search PCA too
    fixed = resolve_grid("logreg", pca=0.95)
    assert "pca__n_components" not in fixed and fixed["clf__C"] == DEFAULT_GRIDS["logreg"]["clf__C"]
    assert "pca__n_components" not in resolve_grid("logreg", pca=None)
    assert resolve_grid("logreg", {"pca__n_components": [8, 16]}, pca=0.95)["pca__n_components"] == [8, 16]


def test_override_replaces_default_and_wraps_scalars():
    grid = resolve_grid("rf", {"clf__n_estimators": 50, "clf__max_features": ["sqrt"]}, pca=None)
    assert grid["clf__n_estimators"] == [50]
    assert grid["clf__max_features"] == ["sqrt"]
    assert grid["clf__min_samples_leaf"] == DEFAULT_GRIDS["rf"]["clf__min_samples_leaf"]


def test_bad_grid_key_suggests_close_match():
    with pytest.raises(GridError, match=r"unknown grid key for head 'logreg': 'clf__CC'; did you mean 'clf__C'.*\? choose from: clf__C, clf__class_weight"):
        resolve_grid("logreg", {"clf__CC": [1]})
    with pytest.raises(GridError, match=r"unknown grid key for head 'svm': 'C'; did you mean 'clf__C'"):
        resolve_grid("svm", {"C": [1]})


def test_pca_key_without_pca_refused():
    with pytest.raises(GridError, match=r"grid key 'pca__n_components' needs PCA in the pipeline of head 'knn'; pass pca=0.95"):
        resolve_grid("knn", {"pca__n_components": [0.9]}, pca=None)


def test_empty_value_list_refused():
    with pytest.raises(GridError, match=r"grid key 'clf__C' of head 'logreg' has an empty value list"):
        resolve_grid("logreg", {"clf__C": []})


def test_unknown_head_in_grid():
    with pytest.raises(UnknownHeadError, match=r"did you mean 'xgb'"):
        resolve_grid("xgbb")


def test_calibrated_heads_route_clf_keys_to_the_wrapped_estimator():
    grid = resolve_grid("svm", {"clf__C": [0.5]}, pca=None, probability=True)
    assert grid == {"clf__estimator__C": [0.5]}
    pipe = make_head("svm", probability=True).set_params(**{k: v[0] for k, v in grid.items()})
    assert pipe.get_params()["clf__estimator__C"] == 0.5


def test_params_text_shortens_pipeline_keys():
    from featx.classify import params_text

    assert params_text({"clf__C": 0.1, "pca__n_components": 0.9, "clf__max_features": "sqrt"}) == \
        "C=0.1, pca.n_components=0.9, max_features=sqrt"
    assert params_text({}) == "" and params_text(None) == ""
