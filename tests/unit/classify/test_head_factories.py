"""The built-in heads' factories (classify/heads/_builtin.py): each imports its classifier class
only when called, pickles (heads travel to joblib and Dask workers), and builds the classifier
make_head puts last in the Pipeline, with the head's defaults."""

from __future__ import annotations

import pickle

import pytest

from featx.classify import make_head
from featx.classify.heads import head_spec
from featx.classify.heads._builtin import LazyClass
from helpers.fresh import fresh_run

CLASSES = {"logreg": "LogisticRegression", "svm": "LinearSVC", "svm_rbf": "SVC", "rf": "RandomForestClassifier",
           "xgb": "ReencodedXGBClassifier", "knn": "KNeighborsClassifier", "ridge": "RidgeClassifier",
           "centroid": "NearestCentroidL2"}


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_each_builtin_factory_builds_its_classifier_and_pickles(name):
    factory = head_spec(name).factory
    again = pickle.loads(pickle.dumps(factory))
    clf = again()
    assert type(clf).__name__ == CLASSES[name]
    assert type(make_head(name).named_steps["clf"]) is type(clf)
    for key, value in head_spec(name).defaults.items():
        assert make_head(name).named_steps["clf"].get_params()[key] == value


def test_a_lazy_class_passes_parameters_and_compares_by_path():
    factory = LazyClass("sklearn.linear_model:RidgeClassifier")
    assert factory(alpha=3.0).alpha == 3.0
    assert factory == LazyClass("sklearn.linear_model:RidgeClassifier") != LazyClass("sklearn.svm:SVC")
    assert repr(factory) == "LazyClass('sklearn.linear_model:RidgeClassifier')"


def test_the_factories_import_nothing_until_called():
    out, imported = fresh_run("from featx.classify.heads._builtin import BUILTIN_HEADS; print(len(BUILTIN_HEADS))",
                              ("sklearn", "xgboost", "scipy"))
    assert (out, imported) == ("8", [])
