"""LogME against the evidence maximised by brute force: the marginal likelihood of each one-hot
target written directly as a Gaussian density, N(t | 0, I/beta + F F^T/alpha), maximised over a
grid of (alpha, beta) that is zoomed in three times (the log evidence itself is checked against this density in the module's
closed form at the maximum found)."""

import json
import re
import time

import numpy as np
import pytest
from featx.classify import FeatureSet, FeatureSetError, LogMERanking, best_cv_scores, compare, logme, rank_logme


def _direct_log_evidence(F, t, alpha, beta):
    n = len(t)
    scaled = np.eye(n) + F @ F.T * (beta / alpha)  # the covariance I/beta + F F^T/alpha, times beta
    sign, log_det = np.linalg.slogdet(scaled)
    quad = t @ np.linalg.solve(scaled, t)
    if sign <= 0 or quad <= 0:  # rounding at the box's far corners: no maximum lies there
        return -np.inf
    return -0.5 * (n * np.log(2 * np.pi) - n * np.log(beta) + log_det + beta * quad)


def _brute_force_logme(F, y):
    per_class = []
    for c in np.unique(y):
        t = (y == c).astype(float)
        lo_a, hi_a, lo_b, hi_b = -4.0, 6.0, -4.0, 10.0  # log10 alpha, log10 beta
        for _ in range(4):  # a 61 x 61 grid of log10 alpha, log10 beta, zoomed around its best point
            la, lb = np.linspace(lo_a, hi_a, 61), np.linspace(lo_b, hi_b, 61)
            grid = np.array([[_direct_log_evidence(F, t, 10 ** a, 10 ** b) for b in lb] for a in la])
            i, j = np.unravel_index(np.argmax(grid), grid.shape)
            step_a, step_b = la[1] - la[0], lb[1] - lb[0]
            lo_a, hi_a, lo_b, hi_b = la[i] - 3 * step_a, la[i] + 3 * step_a, lb[j] - 3 * step_b, lb[j] + 3 * step_b
        per_class.append(grid[i, j] / len(t))
    return float(np.mean(per_class))


# more rows than features, and fewer (where some maxima lie at beta -> infinity: the features
# interpolate the target; the grid's edge at beta = 1e10 and LogME's bounded search both get within 1e-4)
@pytest.mark.parametrize("n, d", [(12, 3), (8, 11)])
def test_logme_is_the_maximised_evidence(n, d):
    rng = np.random.default_rng(n * 100 + d)
    y = np.arange(n) % 3
    F = rng.normal(size=(n, d)) + 0.8 * np.eye(3)[y] @ rng.normal(size=(3, d))
    brute = _brute_force_logme(F, y)
    assert logme(F, y) == pytest.approx(brute, abs=1e-4)
    assert logme(F, y) >= brute - 1e-9  # the fixed point is the maximum; the grid can only fall short


def test_informative_features_score_higher_than_noise():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 40)
    noise = rng.normal(size=(80, 16))
    signal = noise.copy()
    signal[:, 0] += 3.0 * y
    t0 = time.perf_counter()
    ranking = rank_logme({"noise": noise, "signal": signal}, y)
    elapsed = time.perf_counter() - t0
    assert list(ranking.scores) == ["signal", "noise"]
    assert isinstance(ranking, LogMERanking) and 0 < ranking.seconds <= elapsed  # the time it took, measured inside


def test_logme_beside_cv_with_rank_correlation():
    rng = np.random.default_rng(1)
    y = np.repeat([0, 1, 2], 20)
    sets = []
    for k, strength in enumerate([0.0, 0.5, 1.0, 2.0]):  # feature sets of increasing class signal
        X = rng.normal(size=(60, 8)) + strength * np.eye(3)[y] @ rng.normal(size=(3, 8))
        sets.append(FeatureSet(f"set{k}", X, y, ["a", "b", "c"]))
    result = compare(sets, ["logreg"], folds=3, jobs=1)
    ranking = rank_logme(sets).versus(best_cv_scores(result, "accuracy"), "accuracy")
    assert list(ranking.scores) == ["set3", "set2", "set1", "set0"]
    assert ranking.spearman == pytest.approx(1.0) and ranking.kendall == pytest.approx(1.0)
    record = ranking.to_record()
    assert [r["cv_rank"] for r in record["rows"]] == [1, 2, 3, 4]
    assert "Spearman +1.00, Kendall +1.00" in ranking.table()


def test_bad_input_is_one_clear_error():
    with pytest.raises(FeatureSetError, match="at least two classes"):
        logme(np.ones((4, 2)), [0, 0, 0, 0])
    with pytest.raises(FeatureSetError, match="one label per row"):
        logme(np.ones((4, 2)), [0, 1])
    with pytest.raises(FeatureSetError, match="NaN or inf"):
        logme(np.full((2, 2), np.nan), [0, 1])


# --- featx cv --logme and the report's table (a tiny real study: random-weight lite0, colour images) ---


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory):
    from helpers.pipeline import run_tiny

    root = tmp_path_factory.mktemp("logme")
    return run_tiny(root, backbones=[{"name": "lite0", "model": "efficientnet_lite0", "weights": "none",
                                      "layers": ["blocks.1", "blocks.3", "penultimate"]}],
                    classify={"heads": ["centroid"], "grids": {}}, cv={"nested": False},
                    report={"learning_curve": False, "pca_plot": False})


def test_featx_cv_logme_prints_the_ranking_beside_cv(tiny_study, capsys):
    from featx.pipelines.cli import main

    cache = tiny_study.extractions[0]["cache"]
    assert main(["cv", cache, "--heads", "centroid", "--folds", "3", "--logme"]) == 0
    out = capsys.readouterr().out
    table = out[re.search(r"feature_set +logme +rank", out).start():].splitlines()
    assert len(table) == 6 and {line.split()[0] for line in table[2:5]} == {
        f"efficientnet_lite0/{layer}" for layer in ("blocks.1", "blocks.3", "global_pool")}
    # the colour classes are separable at every layer: the three CV scores tie, so no rank correlation
    assert re.fullmatch(r"rank correlation with cv balanced_accuracy: undefined \(fewer than 3 feature sets, or all "
                        r"scores tied\); LogME took \d+\.\d\d s for 3 feature set\(s\)", table[5]), table[5]


def test_the_report_shows_logme_next_to_the_cv_ranking(tiny_study):
    with open(tiny_study.results_path, encoding="utf-8") as fh:
        doc = json.load(fh)
    (source,) = doc["logme"]
    logme = doc["logme"][source]
    assert [r["feature_set"] for r in logme["rows"]] == list(tiny_study.logme[source].scores)
    assert sorted(r["cv_rank"] for r in logme["rows"]) == [1, 2, 3] and "spearman" in logme and "kendall" in logme
    best_cv = max(r["balanced_accuracy_mean"] for r in doc["records"])
    assert max(r["cv"] for r in logme["rows"]) == pytest.approx(best_cv)
    with open(tiny_study.report_path, encoding="utf-8") as fh:
        page = fh.read()
    assert "LogME pre-screen (no cross-validation)" in page and "rank correlation with the CV ranking" in page
    assert page.index("id='logme'") < page.index("id='plots'")  # in the results section, under the CV table
