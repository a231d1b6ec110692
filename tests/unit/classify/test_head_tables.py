"""check_head_tables: per-head PCA and grid tables checked against the chosen heads."""

from __future__ import annotations

from types import MappingProxyType

from featx.classify import check_head_tables


def check(head_pca=None, grids=None, *, heads=("logreg", "svm"), pca="off", nested=True):
    return check_head_tables({} if head_pca is None else head_pca, {} if grids is None else grids, heads=heads, pca=pca,
                             probability=False, nested=nested)


def test_clean_tables_come_back_read_only_with_tuples():
    pcas, grids, problems = check({"logreg": 8}, {"logreg": {"clf__C": [0.1, 1.0], "pca__n_components": [4, 8]}})
    assert problems == []
    assert dict(pcas) == {"logreg": 8}
    assert {k: dict(v) for k, v in grids.items()} == {"logreg": {"clf__C": (0.1, 1.0), "pca__n_components": (4, 8)}}
    assert isinstance(pcas, MappingProxyType) and isinstance(grids["logreg"], MappingProxyType)


def test_heads_not_chosen_are_problems_with_a_hint():
    _, _, problems = check({"xgb": 16}, {"logre": {"clf__C": [1.0]}})
    assert problems[0].startswith("classify.head_pca.xgb: head 'xgb' is not in classify.heads (heads: logreg, svm)")
    assert problems[1].startswith("classify.grids.logre: head 'logre' is not in classify.heads")
    assert "logreg" in problems[1].split("classify.heads")[1]
    assert len(problems) == 2


def test_values_and_shapes_are_checked():
    pcas, grids, problems = check({"logreg": 0, "svm": "search"}, {"logreg": [1], "svm": {"clf__nope": [1]}})
    assert problems[0].startswith("classify.head_pca.logreg: an integer number of components must be >= 1")
    assert problems[1].startswith("classify.grids.logreg: expected a table of parameter = [values], got")
    assert problems[2].startswith("classify.grids.svm: ")
    assert len(problems) == 3 and dict(pcas) == {"svm": "search"} and dict(grids) == {}
    not_tables = check("x", 3)[2]
    assert len(not_tables) == 2
    assert not_tables[0].startswith("classify.head_pca: expected a table of head = pca setting, got")
    assert not_tables[1].startswith("classify.grids: expected a table of head -> table of parameter = [values]")


def test_search_and_grids_need_nested_cv():
    _, grids, problems = check({"logreg": "search"}, {"svm": {"clf__C": [1.0]}}, pca="search", nested=False)
    assert problems == [
        "classify.pca: 'search' needs nested cross-validation (cv.nested = true); give a fixed value such as 0.95",
        "classify.head_pca.logreg: 'search' needs nested cross-validation (cv.nested = true); give a fixed value such as 0.95",
        "classify.grids.svm: grids are only searched by nested cross-validation; set cv.nested = true or remove the grid",
    ]
    assert dict(grids) == {}
