"""A head registered from Python is accepted by ``featx cv --heads`` run in the same process (on a
real cache of tiny real images), and its registered colour is what the report's plot draws."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image
from sklearn.neighbors import KNeighborsClassifier

from featx.classify import register_head, unregister_head
from featx.extract import extract
from featx.pipelines.cli import main
from featx.pipelines.report._plots import layer_scores
from helpers.testdata import write_colour_dataset


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp("registry")
    out = str(root / "colours.h5")
    extract(write_colour_dataset(str(root / "colours")), out, weights="none", workers=0, layers=["global_pool"],
            progress=False)
    return out


@pytest.fixture
def myhead():
    register_head("myhead", KNeighborsClassifier, grid={"clf__n_neighbors": [1, 3]}, colour="#00ffcc",
                  defaults={"n_neighbors": 3})
    yield "myhead"
    unregister_head("myhead")


def test_cli_cross_validates_a_registered_head_in_process(cache, myhead, tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main(["cv", cache, "--heads", "myhead,logreg", "--folds", "3", "--json", str(out)]) == 0
    records = json.loads(out.read_text())
    assert sorted(r["head"] for r in records) == ["logreg", "myhead"] and all(r["n_folds"] == 3 for r in records)
    assert "myhead" in capsys.readouterr().out


def test_cli_refuses_an_unregistered_head_in_one_line(cache, capsys):
    with pytest.raises(SystemExit) as exc:  # argparse refuses the flag's value
        main(["cv", cache, "--heads", "myhead", "--folds", "3"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "'myhead'" in err[0] and "logreg" in err[0]


def test_the_registered_colour_is_drawn_in_the_layer_plot(myhead):
    rec = dict(backbone="b", depth=1, layer="l1", feature_dim=8, balanced_accuracy_mean=0.8,
               balanced_accuracy_ci95_low=0.7, balanced_accuracy_ci95_high=0.9)
    records = [dict(rec, head="myhead"), dict(rec, head="logreg", balanced_accuracy_mean=0.6,
                                              balanced_accuracy_ci95_low=0.5, balanced_accuracy_ci95_high=0.7)]
    records += [dict(r, depth=2, layer="l2") for r in records]
    rgb = np.asarray(Image.open(io.BytesIO(layer_scores(records, "balanced_accuracy", "t"))).convert("RGB"))
    mine = int(np.all(rgb == (0x00, 0xFF, 0xCC), axis=-1).sum())
    blue = int(np.all(rgb == (0x1F, 0x77, 0xB4), axis=-1).sum())  # logreg's registered colour
    assert mine > 20 and blue > 20
    unregister_head("myhead")
    register_head("myhead", KNeighborsClassifier, colour="#ff00ff")  # a new colour is drawn after re-registering
    rgb = np.asarray(Image.open(io.BytesIO(layer_scores(records, "balanced_accuracy", "t"))).convert("RGB"))
    assert int(np.all(rgb == (0x00, 0xFF, 0xCC), axis=-1).sum()) == 0
    assert int(np.all(rgb == (0xFF, 0x00, 0xFF), axis=-1).sum()) > 20
