"""classify's shared settings, defined once as featx.common.Option and read by the API checks."""

from __future__ import annotations

import argparse
import inspect

import numpy as np
import pytest

import featx.classify as fc
from featx.classify import CV_OPTIONS, METRICS, ParameterError
from featx.common import Option, OptionError

EXPECTED = {  # name: (option, default, kind)
    "FOLDS": ("folds", 5, int), "INNER_FOLDS": ("inner_folds", 3, int), "REPEATS": ("repeats", 1, int),
    "SEED": ("seed", 0, int), "NESTED": ("nested", False, bool), "SEARCH": ("search", "grid", str),
    "N_ITER": ("n_iter", 10, int), "WHITEN": ("whiten", False, bool), "PROBABILITY": ("probability", False, bool),
    "JOBS": ("jobs", -1, int), "METRIC": ("metric", "balanced_accuracy", str), "SEARCH_METRIC": ("search_metric", None, str),
}


def test_the_options_are_exported_with_their_defaults():
    for attr, (name, default, kind) in EXPECTED.items():
        opt = getattr(fc, attr)
        assert isinstance(opt, Option) and (opt.name, opt.default, opt.kind) == (name, default, kind), attr
        assert opt.help and not opt.help.endswith(".")
    assert [o.name for o in CV_OPTIONS] == ["nested", "folds", "inner_folds", "repeats", "seed", "search", "n_iter"]
    assert fc.METRIC.choices == fc.SEARCH_METRIC.choices == METRICS and fc.SEARCH.choices == ("grid", "random", "halving")
    assert (fc.FOLDS.minimum, fc.INNER_FOLDS.minimum, fc.REPEATS.minimum, fc.SEED.minimum, fc.N_ITER.minimum) == (2, 2, 1, 0, 1)


def test_the_python_defaults_read_the_options():
    sig = inspect.signature(fc.cross_validate_head).parameters
    for opt in (fc.FOLDS, fc.REPEATS, fc.SEED, fc.NESTED, fc.INNER_FOLDS, fc.SEARCH, fc.N_ITER, fc.WHITEN,
                fc.PROBABILITY, fc.METRIC, fc.SEARCH_METRIC):
        assert sig[opt.name].default == opt.default, opt.name
    assert sig["jobs"].default == 1  # the Python API stays on one core unless asked
    assert inspect.signature(fc.compare).parameters["metric"].default == fc.METRIC.default


def test_jobs_refuses_zero_everywhere():
    assert fc.JOBS.check(-1) == -1 and fc.JOBS.check(4) == 4
    with pytest.raises(OptionError, match=r"jobs: expected an integer >= 1 or -1 \(all cores\), got 0"):
        fc.JOBS.check(0)
    with pytest.raises(OptionError):
        fc.JOBS.check(-2)
    assert fc.JOBS.doc == "integer >= 1 or -1 (all cores)"
    parser = argparse.ArgumentParser()
    fc.JOBS.add_argument(parser, default=1)
    assert parser.parse_args(["--jobs", "-1"]).jobs == -1 and parser.parse_args([]).jobs == 1
    with pytest.raises(SystemExit):
        parser.parse_args(["--jobs", "0"])


def test_cli_flags_come_from_the_options():
    parser = argparse.ArgumentParser()
    for opt in (*CV_OPTIONS, fc.WHITEN, fc.PROBABILITY, fc.METRIC, fc.SEARCH_METRIC):
        opt.add_argument(parser)
    args = parser.parse_args(["--nested", "--folds", "4", "--inner-folds", "2", "--search", "random",
                              "--n-iter", "3", "--search-metric", "log_loss"])
    assert (args.nested, args.folds, args.inner_folds, args.search, args.n_iter, args.search_metric) == (
        True, 4, 2, "random", 3, "log_loss")
    assert (args.metric, args.seed, args.whiten, args.probability, args.repeats) == ("balanced_accuracy", 0, False, False, 1)


@pytest.mark.parametrize("kwargs,msg", [
    ({"folds": 1}, r"folds must be an int >= 2; got 1"),
    ({"repeats": 0}, r"repeats must be an int >= 1; got 0"),
    ({"seed": -1}, r"seed must be an int >= 0; got -1"),
    ({"nested": "yes"}, r"nested must be True or False; got 'yes'"),
    ({"nested": True, "inner_folds": 1}, r"inner_folds must be an int >= 2; got 1"),
    ({"nested": True, "n_iter": 0}, r"n_iter must be an int >= 1; got 0"),
    ({"whiten": 1}, r"whiten must be True or False; got 1"),
    ({"probability": "no"}, r"probability must be True or False; got 'no'"),
    ({"jobs": 0}, r"jobs must be an int >= 1 or -1 \(all cores\); got 0"),
    ({"metric": "auc"}, r"unknown metric 'auc'"),
])
def test_the_api_checks_use_the_options(hard_fs, kwargs, msg):
    with pytest.raises(ParameterError, match=msg):
        fc.cross_validate_head(hard_fs, "logreg", **kwargs)


def test_numpy_integers_are_ints(hard_fs):
    r = fc.cross_validate_head(hard_fs, "centroid", folds=np.int64(3), seed=np.int32(2), jobs=np.int64(1))
    assert r.n_folds == 3 and r.config["seed"] == 2
