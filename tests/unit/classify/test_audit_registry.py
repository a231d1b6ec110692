"""The audit-check registry: a check registered from Python runs in ``audit()`` after the seven
built-in checks (registered first, built in) and its findings appear in ``Audit.extra``,
``Audit.to_json()`` and ``featx audit --json`` under its name; bad registrations (a built-in
name among them) are refused in one line; unregistering works, except for a built-in check."""

import json

import numpy as np
import pytest

from featx.classify import (
    AuditContext,
    FeatureSet,
    audit,
    list_audit_checks,
    register_audit_check,
    unregister_audit_check,
)
from featx.classify.audits import audit_check_spec
from featx.classify.audits._registry import BUILTIN_AUDIT_KEYS
from featx.classify.audits._stats import reduce_features
from featx.classify._errors import ParameterError

FAST = {"folds": 3, "repeats": 1, "prune": False, "seed": 0}


def neighbour_disagrees(ctx: AuditContext):
    """Rows whose nearest neighbour (the audit's own search) has another label."""
    idx, cos = ctx.knn
    nn = idx[:, 0]
    return [{"path": ctx.paths[i], "label": ctx.class_names[ctx.labels[i]], "neighbour": ctx.paths[int(nn[i])],
             "neighbour_label": ctx.class_names[ctx.labels[nn[i]]], "cosine": round(float(cos[i, 0]), 4)}
            for i in range(len(nn)) if ctx.labels[nn[i]] != ctx.labels[i]]


def by_hand(X, y, paths, names):
    """The same finding, brute force: cosine on the audit's reduced features, self left out."""
    Z = reduce_features(X, seed=0)
    Z = Z / np.linalg.norm(Z, axis=1, keepdims=True)
    S = Z @ Z.T
    np.fill_diagonal(S, -np.inf)
    nn = S.argmax(1)
    return [{"path": paths[i], "label": names[y[i]], "neighbour": paths[nn[i]], "neighbour_label": names[y[nn[i]]],
             "cosine": round(float(S[i, nn[i]]), 4)} for i in range(len(y)) if y[nn[i]] != y[i]]


@pytest.fixture
def registered():
    """Register ``neighbour_disagrees`` for one test, then remove it whatever happens."""
    register_audit_check("label_neighbours", neighbour_disagrees, help="rows whose nearest neighbour has another label")
    yield "label_neighbours"
    if "label_neighbours" in list_audit_checks():
        unregister_audit_check("label_neighbours")


@pytest.fixture(scope="module")
def hymenoptera_rows(hymenoptera_cache):
    """60 rows (30 per class) of real default-model features of hymenoptera."""
    from featx.extract import read_cache

    data = read_cache(hymenoptera_cache)
    layer = list(data.features)[-1]
    rows = np.concatenate([np.flatnonzero(data.labels == c)[:30] for c in range(len(data.class_names))])
    X, y = data.features[layer][rows], data.labels[rows]
    paths = [data.paths[i] for i in rows]
    return FeatureSet("hymenoptera", X, y, list(data.class_names)), paths


def test_a_registered_check_runs_in_audit_and_equals_the_hand_computation(hymenoptera_rows, registered):
    fs, paths = hymenoptera_rows
    result = audit(fs, paths, **FAST)
    expected = by_hand(fs.X, fs.y, paths, fs.class_names)
    assert expected  # real ants and bees: some nearest neighbours have the other label
    assert result.extra == {"label_neighbours": expected}
    j = result.to_json()
    assert list(j) == [*BUILTIN_AUDIT_KEYS, "label_neighbours"] and j["label_neighbours"] == expected
    assert f"label_neighbours: {len(expected)} finding(s)" in result.summary()
    # the built-in findings are the same as without the check; unregistered, it is gone
    unregister_audit_check("label_neighbours")
    assert "label_neighbours" not in list_audit_checks()
    plain = audit(fs, paths, **FAST)
    assert plain.extra == {} and list(plain.to_json()) == list(BUILTIN_AUDIT_KEYS)
    assert json.dumps(plain.to_json(), sort_keys=True) == json.dumps({k: j[k] for k in BUILTIN_AUDIT_KEYS}, sort_keys=True)


def test_bad_registrations_are_refused_in_one_line(registered):
    bad = [
        (lambda: register_audit_check("label_neighbours", neighbour_disagrees), "already registered"),
        (lambda: register_audit_check("outliers", neighbour_disagrees), "audit check 'outliers' is already registered"),
        (lambda: register_audit_check("leak", neighbour_disagrees, replace=True), "audit check 'leak' is already registered"),
        (lambda: unregister_audit_check("calibration"), "audit check 'calibration' is built in and cannot be removed"),
        (lambda: register_audit_check("mine", 42), "must be callable"),
        (lambda: register_audit_check("no spaces", neighbour_disagrees), "must be a word"),
        (lambda: unregister_audit_check("label_neighbour"), "did you mean 'label_neighbours'"),
    ]
    for call, words in bad:
        with pytest.raises(ParameterError) as e:
            call()
        assert words in str(e.value) and "\n" not in str(e.value)
    assert list_audit_checks() == [*BUILTIN_AUDIT_KEYS, "label_neighbours"]
    assert audit_check_spec("outliers").builtin and not audit_check_spec("label_neighbours").builtin
    register_audit_check("label_neighbours", neighbour_disagrees, replace=True)  # replace is allowed

    @register_audit_check("decorated")  # the decorator form returns the function
    def decorated(ctx):
        return {"rows": len(ctx.labels)}

    try:
        assert callable(decorated) and list_audit_checks("dec*") == ["decorated"]
        assert list_audit_checks() == [*BUILTIN_AUDIT_KEYS, "label_neighbours", "decorated"]
    finally:
        unregister_audit_check("decorated")
    assert list_audit_checks() == [*BUILTIN_AUDIT_KEYS, "label_neighbours"]


def test_the_context_is_read_only_and_a_failing_check_is_one_line(blobs_fs):
    def writes(ctx):
        ctx.X[0, 0] = 1.0

    register_audit_check("writes", writes)
    try:
        before = blobs_fs.X.copy()
        with pytest.raises(ParameterError) as e:
            audit(blobs_fs, [f"r{i}" for i in range(blobs_fs.n_samples)], **FAST)
        assert "audit check 'writes' failed: ValueError" in str(e.value) and "\n" not in str(e.value)
        assert np.array_equal(blobs_fs.X, before)
    finally:
        unregister_audit_check("writes")


def test_featx_audit_json_has_the_registered_check_under_its_name(colour_dataset, tmp_path, registered, capsys):
    from featx.extract import extract, read_cache
    from featx.pipelines.cli import main

    cache = str(tmp_path / "c.h5")
    extract(colour_dataset, cache, weights="none", workers=0, progress=False)
    out = tmp_path / "a.json"
    assert main(["audit", cache, "--folds", "3", "--repeats", "1", "--json", str(out)]) == 0
    assert "label_neighbours:" in capsys.readouterr().out
    j = json.loads(out.read_text())
    data = read_cache(cache)
    X = data.features[list(data.features)[-1]]
    assert list(j) == [*BUILTIN_AUDIT_KEYS, "label_neighbours"]
    assert j["label_neighbours"] == by_hand(X, data.labels, list(data.paths), list(data.class_names))

    register_audit_check("boom", lambda ctx: 1 / 0)
    try:
        assert main(["audit", cache, "--folds", "3", "--repeats", "1", "--json", str(tmp_path / "b.json")]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert err == [err[0]] and err[0].startswith("error: audit check 'boom' failed: ZeroDivisionError")
    finally:
        unregister_audit_check("boom")
