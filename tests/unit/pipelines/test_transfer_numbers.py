"""The computations under the transfer study (featx.classify): held-out split selection, the
data-efficiency subsets, the bootstrap interval, the verdict and its paragraph; and the [finetune]
section of the spec."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from featx.classify import (DATA_EFFICIENCY, SplitError, bootstrap_scores, efficiency_subsets, heldout_record,
                            holdout_splits, negative_transfer, transfer_verdict)
from featx.classify.transfer._bootstrap import fast_metric
from featx.classify._metrics import fold_metrics
from featx.extract.finetune import FINETUNE_OPTIONS
from featx.pipelines import SpecError
from featx.pipelines._spec import SCHEMA, load_spec, to_toml
from helpers.testdata import write_colour_dataset
from helpers.pipeline import tiny_spec

METRICS = ("accuracy", "balanced_accuracy", "f1_macro", "roc_auc", "log_loss")


@pytest.mark.parametrize("k", [2, 3])
def test_resample_metrics_equal_the_cv_metrics(k):
    rng = np.random.default_rng(k)
    y = rng.integers(0, k, 120)
    proba = rng.dirichlet(np.ones(k), 120)
    proba[np.arange(60), y[:60]] += 1.0  # better than chance
    proba /= proba.sum(1, keepdims=True)
    pred = proba.argmax(1)
    pred[:3] = (y[:3] + 1) % k
    ref = fold_metrics(y, pred, proba, proba, np.arange(k), METRICS)
    for m in METRICS:
        assert fast_metric(m, y, pred, proba, k) == pytest.approx(ref[m], abs=1e-9), m


def test_bootstrap_interval_is_seeded_and_holds_the_point():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 80)
    pred = np.where(rng.random(80) < 0.8, y, 1 - y)
    a = bootstrap_scores(y, pred, None, 2, ["accuracy", "roc_auc"], seed=1)
    assert a == bootstrap_scores(y, pred, None, 2, ["accuracy", "roc_auc"], seed=1)
    b = bootstrap_scores(y, pred, None, 2, ["accuracy"], seed=2)
    acc = a["accuracy"]
    assert acc["mean"] == pytest.approx(np.mean(y == pred)) and b["accuracy"]["mean"] == acc["mean"]
    assert acc["ci95_low"] < acc["mean"] < acc["ci95_high"]
    assert (b["accuracy"]["ci95_low"], b["accuracy"]["ci95_high"]) != (acc["ci95_low"], acc["ci95_high"])
    assert 0.05 < acc["ci95_high"] - acc["ci95_low"] < 0.3  # about 4 standard errors of 80 rows
    assert np.isnan(a["roc_auc"]["mean"]) and np.isnan(a["roc_auc"]["ci95_low"])  # no scores: no AUC
    perfect = bootstrap_scores(y, y, None, 2, ["balanced_accuracy"])["balanced_accuracy"]
    assert (perfect["ci95_low"], perfect["mean"], perfect["ci95_high"]) == (1.0, 1.0, 1.0)


def test_pooled_parts_must_hold_out_each_row_once():
    y = np.array([0, 1, 0, 1])
    parts = [{"test": [0, 1], "pred": [0, 1], "proba": None}, {"test": [2, 3], "pred": [1, 1], "proba": None}]
    rec = heldout_record(parts, y, 2, ["accuracy"])
    assert rec["n_test"] == 4 and rec["accuracy_mean"] == 0.75
    with pytest.raises(ValueError, match="held out by two parts"):
        heldout_record(parts + [{"test": [0], "pred": [0], "proba": None}], y, 2, ["accuracy"])


def test_the_sources_own_split_is_the_held_out_set():
    y = np.array([0, 1] * 6)
    names = ["train"] * 6 + ["val"] * 6
    h = holdout_splits(y, names)
    assert h.kind == "source" and len(h.splits) == 1
    assert h.splits[0][0].tolist() == list(range(6)) and h.splits[0][1].tolist() == list(range(6, 12))
    # train / val / test: test is held out, val joins the training part (early stopping splits it itself)
    h = holdout_splits(y, ["train"] * 4 + ["val"] * 4 + ["test"] * 4)
    assert h.splits[0][1].tolist() == list(range(8, 12)) and h.splits[0][0].tolist() == list(range(8))
    assert "4 held-out images (test)" in h.description
    # Training/Testing folder names, in any case
    assert holdout_splits(y, ["Training"] * 8 + ["Testing"] * 4).splits[0][1].tolist() == list(range(8, 12))


def test_without_a_split_every_row_is_held_out_once_in_stratified_folds():
    y = np.repeat([0, 1, 2], [9, 6, 12])
    h = holdout_splits(y, None, folds=3, seed=4)
    assert h.kind == "folds" and len(h.splits) == 3 and "each approach trains 3 times" in h.description
    tests = np.concatenate([te for _, te in h.splits])
    assert sorted(tests.tolist()) == list(range(len(y)))
    for tr, te in h.splits:
        assert not set(tr) & set(te) and np.bincount(y[te]).tolist() == [3, 2, 4]
    assert [te.tolist() for _, te in h.splits] == [te.tolist() for _, te in holdout_splits(y, None, folds=3, seed=4).splits]
    assert len(holdout_splits(np.repeat([0, 1], [2, 9]), None, folds=5).splits) == 2  # capped at the smallest class
    with pytest.raises(SplitError, match="fewer than 2 images"):
        holdout_splits(np.array([0, 1, 1, 1]), None)


def test_efficiency_subsets_are_stratified_and_inside_the_training_part():
    y = np.repeat([0, 1], [20, 10])
    train = np.arange(0, 30, 1)[::1][np.arange(30) % 5 != 0]  # 24 rows
    subsets = efficiency_subsets(train, y, [0.1, 0.5, 1.0], seed=0)
    assert subsets[1.0].tolist() == sorted(train.tolist())
    for f, rows in subsets.items():
        assert set(rows) <= set(train)
        counts = np.bincount(y[rows], minlength=2)
        assert counts.tolist() == [max(1, round(f * 16)), max(1, round(f * 8))]  # 0.1 -> [2, 1]: every class kept


def _rec(approach, mean, low, high, strategy=None, head=None, n_train=150):
    return {"approach": approach, "strategy": strategy, "head": head, "n_train": n_train, "n_test": 100,
            "accuracy_mean": mean, "accuracy_ci95_low": low, "accuracy_ci95_high": high}


SIMILAR = {"value": 0.2, "method": "entropy", "verdict": "similar", "threshold": 0.45, "direction": "lower", "n_images": 64}
DIFFERENT = {**SIMILAR, "value": 0.7, "verdict": "different"}


def test_verdict_is_computed_from_the_numbers():
    tie = [_rec("frozen", 0.948, 0.91, 0.98, head="logreg"), _rec("finetuned", 0.941, 0.90, 0.97, "partial:2"),
           _rec("scratch", 0.62, 0.54, 0.70, "full")]
    v = transfer_verdict(tie, "accuracy", n_classes=2, similarity=SIMILAR)
    assert v["winner"] is tie[0] and v["runner_up"] is tie[1] and v["overlap"] is True
    assert v["margin"] == pytest.approx(0.007) and v["cell"] == ("small", "similar") and not v["negative"]
    assert "frozen features + logreg (accuracy 0.948, 95% CI 0.910–0.980) scores best, 0.007 ahead of" in v["text"]
    # records without paired fields (no predictions to pair): the marginal intervals, said as such
    assert "marginal intervals overlap" in v["text"] and "pretraining pays" in v["text"] and v["text"].endswith("agrees.")

    shift = [_rec("frozen", 0.815, 0.76, 0.84, head="logreg", n_train=2400),
             _rec("finetuned_features", 0.87, 0.85, 0.90, "partial:2", "logreg", n_train=2400),
             _rec("scratch", 0.86, 0.80, 0.89, "full", n_train=2400)]
    v2 = transfer_verdict(shift, "accuracy", n_classes=4, similarity=DIFFERENT)
    assert v2["cell"] == ("large", "different") and v2["winner"] is shift[1] and v2["overlap"] is True
    assert "+0.055" in v2["text"] and "With 2400 training images (600 per class" in v2["text"]
    assert v2["text"] != v["text"]
    flagged = negative_transfer(shift, "accuracy")  # scratch's interval reaches both pretrained records
    assert [(f["record"]["approach"], f["beats"]) for f in flagged] == [("frozen", True), ("finetuned_features", False)]
    assert "scratch matches it" in v2["text"] and v2["text"].endswith("the advice agrees.")
    # the advised approach within the winner's intervals: a tie, said as such
    near = [_rec("frozen", 0.947, 0.908, 0.981, head="logreg"), _rec("finetuned_features", 0.953, 0.915, 0.985, "partial:2", "svm")]
    v3 = transfer_verdict(near, "accuracy", n_classes=2, similarity=SIMILAR)
    assert v3["cell"] == ("small", "similar") and v3["winner"] is near[1]
    assert v3["text"].endswith("agrees within the noise (its best, frozen features + logreg, is 0.006 behind svm on "
                               "fine-tuned [partial:2] features, no detectable difference).")
    assert transfer_verdict([_rec("frozen", float("nan"), 0, 0)], "accuracy", n_classes=2) == {}


@pytest.fixture
def source(tmp_path):
    return write_colour_dataset(tmp_path / "colours", per_class=3)


def test_finetune_section_defaults_are_the_cli_defaults(source, tmp_path):
    table = SCHEMA["finetune"]
    assert all(table[o.name] is o for o in FINETUNE_OPTIONS if o.name != "strategy") and "strategy" not in table
    assert table["data_efficiency"] is DATA_EFFICIENCY
    spec = load_spec(tiny_spec(source, str(tmp_path / "o"), finetune={}))
    assert spec.finetune.strategies == ("head", "partial:2") and spec.finetune.scratch is True
    assert spec.finetune.data_efficiency is None and spec.finetune.epochs == 10 and spec.finetune.patience == 3
    assert load_spec(tiny_spec(source, str(tmp_path / "o"))).finetune is None
    again = load_spec(__import__("tomllib").loads(to_toml(spec.to_dict())))
    assert again.finetune == spec.finetune


def test_finetune_section_problems_are_listed_together(source, tmp_path):
    bad = tiny_spec(source, str(tmp_path / "o"), finetune={"strategies": ["partal:2", "head"], "layer": "blocks.9",
                                                           "data_efficiency": [0.5, 0.2], "epochs": 0, "lr": -1})
    with pytest.raises(SpecError) as err:
        load_spec(bad)
    text = str(err.value)
    for part in ("finetune.strategies: unknown strategy 'partal:2'; did you mean 'partial'?",
                 "finetune.layer: 'blocks.9' is not a layer of backbone 'lite0' (blocks.1, penultimate)",
                 "finetune.data_efficiency: expected increasing fractions", "finetune.epochs:", "finetune.lr:"):
        assert part in text
    with pytest.raises(SpecError, match="finetune.backbone: 'resnet' is not a \\[\\[backbones\\]\\] name; use one of lite0"):
        load_spec(tiny_spec(source, str(tmp_path / "o"), finetune={"backbone": "resnet"}))


def test_cli_reports_a_bad_finetune_section_in_one_error_line(source, tmp_path):
    spec = tmp_path / "bad.toml"
    spec.write_text(to_toml(tiny_spec(source, str(tmp_path / "o"), finetune={"strategies": ["sideways"]})), encoding="utf-8")
    env = dict(os.environ)
    env.pop("FEATX_DEBUG", None)
    done = subprocess.run([sys.executable, "-m", "featx.pipelines.cli", "run", str(spec), "--check"], capture_output=True,
                          text=True, env=env, timeout=300)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "finetune.strategies: unknown strategy 'sideways'" in done.stderr and "error:" in done.stderr


def test_holdout_folds_keep_each_group_on_one_side():
    """Exact copies share a group (flowers has 3 real byte-identical pairs): plain stratified folds
    split a pair across train and test, which the study's CV then refuses; grouped folds never do."""
    y = np.repeat([0, 1, 2], 20)
    groups = np.arange(60)
    groups[1::2] = groups[0::2]  # 30 pairs, each within one class
    h = holdout_splits(y, None, folds=3, seed=1, groups=groups)
    assert len(h.splits) == 3 and "group-aware" in h.description
    for train, test in h.splits:
        assert not set(groups[train]) & set(groups[test])
        assert sorted(np.concatenate([train, test]).tolist()) == list(range(60))
    plain = holdout_splits(y, None, folds=3, seed=1)
    assert any(set(groups[tr]) & set(groups[te]) for tr, te in plain.splits)  # what the groups prevent
    assert [te.tolist() for _, te in holdout_splits(y, None, folds=3, seed=1, groups=np.arange(60)).splits] == \
        [te.tolist() for _, te in plain.splits]  # all groups singletons: the plain folds
