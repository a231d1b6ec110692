"""The built-in audit checks are registrations: the seven ``featx audit --json`` keys, in order, at
the head of the registry; ``Audit.to_json()`` is their findings (then the user's checks), and on
real hymenoptera features it is byte for byte the record written out by hand from the Audit's
fields (the shape ``featx audit --json`` had before the checks were registrations)."""

import json

import numpy as np
import pytest

from featx.classify import FeatureSet, audit, list_audit_checks, register_audit_check, unregister_audit_check
from featx.classify.audits import BUILTIN_AUDIT_KEYS, audit_check_spec
from featx.classify._errors import ParameterError
from featx.common import to_jsonable

KEYS = ("exact_duplicates", "near_duplicates", "label_issues", "outliers", "calibration", "leak", "image_issues")


def test_the_built_in_checks_are_the_first_registrations_in_json_order():
    assert BUILTIN_AUDIT_KEYS == KEYS
    assert tuple(list_audit_checks()[:7]) == KEYS
    for name in KEYS:
        spec = audit_check_spec(name)
        assert spec.builtin and spec.name == name and callable(spec.check) and spec.help
        with pytest.raises(ParameterError, match=f"audit check '{name}' is built in and cannot be removed"):
            unregister_audit_check(name)
        with pytest.raises(ParameterError, match=f"audit check '{name}' is already registered; pick another name$"):
            register_audit_check(name, lambda ctx: [], replace=True)
    assert tuple(list_audit_checks()[:7]) == KEYS and audit_check_spec("leak").check.__module__.endswith("_builtin")


@pytest.fixture(scope="module")
def hymenoptera_audited(hymenoptera_cache):
    """An audit of 62 real hymenoptera rows (30 per class, the two rows with image-quality issues)
    plus a planted exact copy and a planted near copy, with perceptual hashes and pixel statistics
    of the real files: every built-in check has findings."""
    from featx.extract import read_cache
    from featx.extract.images import scan_files
    from featx.pipelines._glue import source_root

    data = read_cache(hymenoptera_cache)
    X_all = data.features[list(data.features)[-1]]
    odd = [data.paths.index(p) for p in ("train/ants/imageNotFound.gif", "val/bees/290082189_f66cb80bfc.jpg")]
    rows = [int(i) for c in range(2) for i in np.flatnonzero(data.labels == c)[:30] if i not in odd] + odd
    paths = [data.paths[i] for i in rows]
    hashes, mirrored, ok, stats = scan_files(paths, source_root(hymenoptera_cache))
    # planted: row 0 again (same bytes), row 31 scaled (same picture, other bytes)
    X = np.vstack([X_all[rows], X_all[rows[0]], X_all[rows[31]] * 1.0001])
    y = np.concatenate([data.labels[rows], data.labels[[rows[0], rows[31]]]])
    sha = np.concatenate([data.hashes[rows], [data.hashes[rows[0]], "planted"]])
    extra = [0, 31]
    phash = (np.vstack([hashes, hashes[extra]]), np.vstack([mirrored, mirrored[extra]]), np.concatenate([ok, ok[extra]]))
    stats = np.vstack([stats, stats[extra]])
    paths = paths + ["planted/copy_of_" + paths[0].split("/")[-1], "planted/near_" + paths[31].split("/")[-1]]
    fs = FeatureSet("hymenoptera", X, y, list(data.class_names))
    return audit(fs, paths, sha256=sha, phash=phash, image_stats=stats, folds=3, repeats=2, seed=0)


def by_hand(a) -> dict:
    """The ``featx audit --json`` record written out from the Audit's fields."""
    p, names, li = a.paths, a.class_names, a.label_issues
    return {
        "exact_duplicates": [[p[int(i)] for i in c] for c in a.exact],
        "near_duplicates": [{"paths": [p[int(i)] for i in c.rows], "min_similarity": round(float(c.min_similarity), 4),
                             "pairs": [{"paths": [p[int(i)], p[int(j)]], "cosine": round(float(cos), 4),
                                        "hash_distance": None if bits < 0 else int(bits), "mirrored": bool(m)}
                                       for (i, j), cos, bits, m in zip(c.pairs, c.cosines, c.bits, c.mirrored)]}
                            for c in a.near],
        "label_issues": [{"path": p[int(li.rows[k])], "given": names[int(li.given[k])],
                          "suggested": names[int(li.suggested[k])], "score": round(float(li.score[k]), 4)}
                         for k in range(len(li.rows))],
        "outliers": [{"path": p[int(i)], "score": round(float(a.outlier_scores[int(i)]), 4)} for i in a.outliers],
        "calibration": dict(a.calibration),
        "leak": dict(a.leak),
        "image_issues": [{"path": p[r], "issue": issue, "score": round(float(s), 4)} for r, issue, s in a.image_issues],
    }


def test_to_json_is_byte_for_byte_the_record_by_hand_on_real_features(hymenoptera_audited, tmp_path):
    from featx.common import write_json

    a = hymenoptera_audited
    j = a.to_json()
    assert list(j) == list(KEYS)
    # every check has something to say: the planted copies, real label issues and image issues
    assert any(set(c) == {a.paths[0], a.paths[-2]} for c in j["exact_duplicates"])
    assert any(a.paths[-1] in c["paths"] and c["pairs"] for c in j["near_duplicates"])
    assert j["label_issues"] and len(j["outliers"]) == 20 and j["calibration"]["ece"] >= 0
    assert {x["path"] for x in j["image_issues"]} >= {"train/ants/imageNotFound.gif", "val/bees/290082189_f66cb80bfc.jpg"}
    # what featx audit --json writes: the same bytes as the record by hand
    mine, theirs = tmp_path / "a.json", tmp_path / "b.json"
    write_json(str(mine), to_jsonable(j))
    write_json(str(theirs), to_jsonable(by_hand(a)))
    assert mine.read_bytes() == theirs.read_bytes()
    assert a.to_json() is not a.findings and a.extra == {}  # a copy; no user check registered


def test_a_user_check_lands_after_the_built_in_keys(hymenoptera_rows_small):
    fs, paths = hymenoptera_rows_small
    register_audit_check("row_count", lambda ctx: {"rows": len(ctx.paths), "outliers": len(ctx.outliers)})
    try:
        result = audit(fs, paths, folds=3, repeats=1, prune=False)
    finally:
        unregister_audit_check("row_count")
    j = result.to_json()
    assert list(j) == [*KEYS, "row_count"] and j["row_count"] == {"rows": 40, "outliers": 20}
    assert result.extra == {"row_count": {"rows": 40, "outliers": 20}}
    assert json.dumps({k: j[k] for k in KEYS}) == json.dumps(by_hand(result), default=float)
    assert list_audit_checks() == list(KEYS)


@pytest.fixture(scope="module")
def hymenoptera_rows_small(hymenoptera_cache):
    from featx.extract import read_cache

    data = read_cache(hymenoptera_cache)
    rows = np.concatenate([np.flatnonzero(data.labels == c)[:20] for c in range(2)])
    X = data.features[list(data.features)[-1]][rows]
    return FeatureSet("h", X, data.labels[rows], list(data.class_names)), [data.paths[i] for i in rows]
