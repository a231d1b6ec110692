"""Paired comparisons of two approaches on the same held-out rows (featx.classify.transfer)."""

from __future__ import annotations

import numpy as np
import pytest

from featx.classify import bootstrap_scores, describe_transfer, transfer_verdict
from featx.classify.transfer import mcnemar_exact, paired_comparisons, paired_difference


def _preds(y, wrong):
    pred = y.copy()
    pred[wrong] = 1 - y[wrong]
    return pred


def _case():
    """300 binary held-out rows; b is wrong on rows 0..59 (0.80), a on rows 0..44 (0.85): a is right
    wherever b is, plus 15 more rows."""
    y = np.tile([0, 1], 150)
    return y, _preds(y, np.arange(45)), _preds(y, np.arange(60))


def test_marginal_intervals_overlap_but_the_paired_test_tells_them_apart():
    y, a, b = _case()
    ma = bootstrap_scores(y, a, None, 2, ["accuracy"])["accuracy"]
    mb = bootstrap_scores(y, b, None, 2, ["accuracy"])["accuracy"]
    assert ma["ci95_low"] <= mb["ci95_high"]  # the marginal intervals overlap
    d = paired_difference(y, [{"test": np.arange(300), "pred": a}], [{"test": np.arange(300), "pred": b}], 2, "accuracy")
    assert d["delta"] == pytest.approx(0.05)
    assert 0 < d["ci95"][0] < 0.05 < d["ci95"][1]
    assert d["p_value"] == pytest.approx(2 * 0.5 ** 15)
    assert d["verdict"] == "better"
    back = paired_difference(y, [{"test": np.arange(300), "pred": b}], [{"test": np.arange(300), "pred": a}], 2, "accuracy")
    assert back["verdict"] == "worse" and back["delta"] == pytest.approx(-0.05)


def test_a_difference_of_pure_noise_is_not_told_apart():
    y = np.tile([0, 1], 150)
    a, b = _preds(y, np.arange(0, 60)), _preds(y, np.arange(30, 90))  # 30 discordant each way
    d = paired_difference(y, [{"test": np.arange(300), "pred": a}], [{"test": np.arange(300), "pred": b}], 2,
                          "balanced_accuracy")
    assert d["delta"] == pytest.approx(0.0)
    assert d["ci95"][0] < 0 < d["ci95"][1]
    assert d["p_value"] == pytest.approx(1.0)
    assert d["verdict"] == "no detectable difference"


def test_lower_is_better_metrics_flip_the_word():
    y, a, b = _case()
    pa, pb = np.eye(2)[a] * 0.9 + 0.05, np.eye(2)[b] * 0.9 + 0.05
    d = paired_difference(y, [{"test": np.arange(300), "pred": a, "proba": pa}],
                          [{"test": np.arange(300), "pred": b, "proba": pb}], 2, "log_loss")
    assert d["delta"] < 0 and d["verdict"] == "better"


def test_folds_are_paired_within_themselves_and_rows_are_matched_by_id():
    y, a, b = _case()
    rows = np.arange(300)
    rng = np.random.default_rng(3)
    f1, f2 = rows[:150], rows[150:]
    # b's parts list the same rows in another order: pairing is by row, not by position
    o1, o2 = rng.permutation(f1), rng.permutation(f2)
    parts_a = [{"test": f1, "pred": a[f1]}, {"test": f2, "pred": a[f2]}]
    parts_b = [{"test": o1, "pred": b[o1]}, {"test": o2, "pred": b[o2]}]
    d = paired_difference(y, parts_a, parts_b, 2, "accuracy")
    assert d["delta"] == pytest.approx(0.05) and d["verdict"] == "better"
    with pytest.raises(ValueError, match="same folds"):
        paired_difference(y, parts_a, parts_b[:1], 2, "accuracy")


def test_mcnemar_exact_matches_the_binomial_tail():
    assert mcnemar_exact([True] * 5 + [False] * 5, [False] * 5 + [False] * 5) == pytest.approx(2 * 0.5 ** 5)
    assert mcnemar_exact([True, False], [True, False]) == 1.0


def _records():
    y, a, b = _case()
    rows = np.arange(300)
    base = {"strategy": None, "n_train": 400, "n_test": 300, "source": "s"}
    recs, units = [], []
    for approach, strategy, head, pred in (("frozen", None, "logreg", b), ("finetuned_features", "partial:2", "logreg", a),
                                           ("scratch", "full", None, b)):
        rec = dict(base, approach=approach, strategy=strategy, head=head)
        rec.update({f"accuracy_{k}": v for k, v in bootstrap_scores(y, pred, None, 2, ["accuracy"])["accuracy"].items()})
        rec["accuracy_mean"] = rec.pop("accuracy_mean")
        recs.append(rec)
        units.append([{"test": rows, "pred": pred}])
    return y, recs, units


def test_records_gain_the_paired_fields_and_the_verdict_follows_the_paired_test():
    y, recs, units = _records()
    paired_comparisons(recs, units, y, 2, "accuracy", describe=describe_transfer)
    frozen, tuned, scratch = recs
    assert "delta_vs_frozen" not in frozen
    assert tuned["vs"] == describe_transfer(frozen) and tuned["paired"] == "better"
    assert tuned["delta_vs_frozen"] == pytest.approx(0.05) and tuned["p_value"] < 0.001
    assert scratch["paired"] == "no detectable difference" and scratch["delta_vs_frozen"] == pytest.approx(0.0)
    assert tuned["vs_scratch"]["verdict"] == "better" and frozen["vs_scratch"]["verdict"] == "no detectable difference"
    measured = {"value": 0.2, "method": "entropy", "verdict": "similar", "threshold": 0.45, "direction": "lower", "n_images": 64}
    v = transfer_verdict(recs, "accuracy", n_classes=2, similarity=measured)
    assert v["overlap"] is False  # told apart although the marginal intervals overlap
    assert "cannot tell" not in v["text"] and ": better" in v["text"]
    assert "pretraining pays" in v["text"]  # the best pretrained approach is detectably ahead of scratch
    # frozen is level with scratch on the paired test: negative transfer for frozen only
    assert [n["record"]["approach"] for n in v["negative"]] == ["frozen"]
    # the similarity is the measured one, not inferred from the detectable gain
    assert v["similarity"] == "similar" and v["cell"] == ("small", "similar") and v["gain_agrees"] is False
    assert "Measured before any fine-tuning: similar domain (source-model prediction entropy 0.20" in v["text"]
    assert ("Fine-tuning gained +0.050 [" in v["text"]
            and "which the classic advice for this cell does not predict." in v["text"])
    far = transfer_verdict(recs, "accuracy", n_classes=2, similarity={**measured, "value": 0.8, "verdict": "different"})
    assert far["cell"] == ("small", "different") and far["gain_agrees"] is True
    assert "which the classic advice for this cell predicts." in far["text"]
    unmeasured = transfer_verdict(recs, "accuracy", n_classes=2)
    assert unmeasured["cell"] is None and unmeasured["similarity"] is None and "was not measured" in unmeasured["text"]


def test_without_a_detectable_gain_the_verdict_says_so():
    y, recs, units = _records()
    units[1] = [{"test": np.arange(300), "pred": _preds(y, np.arange(30, 90))}]  # noise against frozen's 0..59
    recs[1]["accuracy_mean"] = 0.8
    paired_comparisons(recs, units, y, 2, "accuracy", describe=describe_transfer)
    assert recs[1]["paired"] == "no detectable difference"
    v = transfer_verdict(recs, "accuracy", n_classes=2)
    assert "no detectable difference" in v["text"]


def test_the_verdict_word_is_said_once_per_comparison():
    y, recs, units = _records()
    units[1] = [{"test": np.arange(300), "pred": _preds(y, np.arange(30, 90))}]  # noise against frozen's 0..59
    recs[1]["accuracy_mean"] = 0.805  # the winner, level with frozen on the paired test
    paired_comparisons(recs, units, y, 2, "accuracy", describe=describe_transfer)
    text = transfer_verdict(recs, "accuracy", n_classes=2)["text"]
    assert "on the same held-out images the difference is" in text
    assert "no detectable difference (no detectable difference)" not in text
    for sentence in text.split(". "):
        assert sentence.count("no detectable difference") <= 1, sentence
