"""``featx run --cluster local:2``: the tiny study on a loopback Dask cluster of two worker
processes scores what a local run scores; the cv stage submits every configuration the cv-cache
lacks in one go (and nothing when the cache has them all); without dask, one error line."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
import distributed  # noqa: F401 - a core dependency: imported, never skipped

from featx.common.settings import to_toml
from featx.pipelines.cli import main

from helpers.testdata import write_colour_dataset
from helpers.pipeline import tiny_spec

#: what a record's scores are (timings and the cached flag differ between runs by design)
NOT_SCORES = ("fit_time_mean", "fit_time_total", "cached")


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """The tiny colour study, written as TOML specs sharing one extraction cache, and its local run."""
    root = tmp_path_factory.mktemp("cluster-study")
    source = write_colour_dataset(root / "colours", per_class=6)

    def spec(name: str, cache: str = "cache", **overrides) -> str:
        path = root / f"{name}.toml"
        overrides.setdefault("report", {"learning_curve": False, "pca_plot": False})  # not cluster work; time saved
        path.write_text(to_toml(tiny_spec(source, str(root / name), cache_dir=str(root / cache), **overrides)))
        return str(path)

    assert main(["run", spec("local")]) == 0
    return root, spec


@pytest.fixture(scope="module")
def address():
    """A running 2-worker loopback cluster, named by its scheduler address as a user names theirs."""
    from featx.common.cluster import local_cluster

    with local_cluster(2) as cluster:
        yield cluster.scheduler_address


def _results(root, name: str) -> dict:
    with open(root / name / "results.json", encoding="utf-8") as fh:
        return json.load(fh)


def _scores(doc: dict) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in NOT_SCORES} for r in doc["records"]]


def _cluster_lines(err: str) -> list[str]:
    return [line.strip() for line in err.splitlines() if line.strip().startswith("cluster: ")]


def test_run_on_local_2_scores_as_a_local_run_and_reuses_the_cv_cache(study, address, capsys):
    """Everything on the cluster: the features extracted in shards by the workers (a cache of
    its own), then the cv stage."""
    root, spec = study
    path = spec("dask", cache="dask-cache")
    capsys.readouterr()
    assert main(["run", path, "--cluster", "local:2"]) == 0
    err = capsys.readouterr().err
    assert re.search(r"on a Dask cluster: 2 worker\(s\) at tcp://127\.0\.0\.1:\d+", err), err
    assert os.path.isdir(_results(root, "dask")["extractions"][0]["cache"] + ".shards"), "extracted on the cluster"
    # one submission for the whole cv stage: 2 layers x 2 heads x 3 folds
    (line,) = _cluster_lines(err)
    assert line.startswith("cluster: 12 fold task(s) of 4 configuration(s) on 2 worker(s)"), line
    local, dask = _results(root, "local"), _results(root, "dask")
    assert dask["cv"] == {"computed": 4, "cached": 0}
    assert _scores(dask) == _scores(local)
    assert [r["balanced_accuracy_mean"] for r in dask["records"]] == [r["balanced_accuracy_mean"] for r in local["records"]]
    assert dask["best"]["colours"]["feature_set"] == local["best"]["colours"]["feature_set"]
    assert dask["command"].endswith("--cluster local:2")

    # rerun, on a running cluster named by its address: every result comes from the cv-cache
    assert main(["run", path, "--cluster", address]) == 0
    err = capsys.readouterr().err
    assert f"on a Dask cluster: 2 worker(s) at {address}" in err
    assert _cluster_lines(err) == [] and "0 computed, 4 reused" in err  # nothing sent to the cluster
    assert _results(root, "dask")["cv"] == {"computed": 0, "cached": 4}
    assert _scores(_results(root, "dask")) == _scores(_results(root, "local"))


def test_the_cv_stage_submits_every_uncached_configuration_together(study, address, capsys):
    """The spec's ``cluster`` key; a study that already has some results (a local run's
    cv-cache, here with one head more) sends only the missing configurations, in one go."""
    root, spec = study
    path = spec("partial", cluster=address, classify={"heads": ["logreg", "centroid", "knn"]})
    # the local run's cached results of logreg and centroid: only knn (on 2 layers) is missing
    os.makedirs(root / "partial" / "cv-cache", exist_ok=True)
    for name in os.listdir(root / "local" / "cv-cache"):
        os.link(root / "local" / "cv-cache" / name, root / "partial" / "cv-cache" / name)
    capsys.readouterr()
    assert main(["run", path]) == 0
    err = capsys.readouterr().err
    (line,) = _cluster_lines(err)
    assert line.startswith("cluster: 6 fold task(s) of 2 configuration(s)"), line
    doc = _results(root, "partial")
    assert doc["cv"] == {"computed": 2, "cached": 4}
    assert [r["head"] for r in doc["records"] if not r["cached"]] == ["knn", "knn"]
    assert "(written without a cluster before: updated here)" in err  # the local run's cache, reused
    assert doc["spec"]["cluster"] == address


def test_featx_cv_on_a_cluster_writes_the_local_records(study, address, tmp_path, capsys):
    root, _ = study
    (cache,) = [os.path.join(root, "cache", f) for f in os.listdir(root / "cache") if f.endswith(".h5")]
    args = ["cv", cache, "--heads", "logreg,centroid", "--folds", "3", "--dedupe", "group"]
    assert main([*args, "--json", str(tmp_path / "local.json")]) == 0
    capsys.readouterr()
    assert main([*args, "--json", str(tmp_path / "dask.json"), "--cluster", address]) == 0
    err = capsys.readouterr().err
    assert re.search(r"^cv on a Dask cluster: 2 worker\(s\) at tcp://127\.0\.0\.1:\d+$", err, re.M), err
    assert re.search(r"^cluster: 12 fold task\(s\) of 4 configuration\(s\) done in \d+\.\d s$", err, re.M), err

    def scores(name):
        with open(tmp_path / name, encoding="utf-8") as fh:
            return [{k: v for k, v in r.items() if k not in NOT_SCORES} for r in json.load(fh)]

    assert scores("dask.json") == scores("local.json") and len(scores("local.json")) == 4


def test_featx_predict_on_a_cluster_writes_the_local_predictions(study, address, tmp_path, capsys):
    root, _ = study
    (cache,) = [os.path.join(root, "cache", f) for f in os.listdir(root / "cache") if f.endswith(".h5")]
    bundle = str(tmp_path / "head.skops")
    assert main(["fit", cache, "--layer", "global_pool", "--head", "logreg", "-o", bundle]) == 0
    for name, extra in (("local", []), ("dask", ["--cluster", address])):
        assert main(["predict", bundle, str(root / "colours"), "-o", str(tmp_path / f"{name}.csv"),
                     "--cache", str(tmp_path / f"{name}.h5"), *extra]) == 0
    assert f"predict on a Dask cluster: 2 worker(s) at {address}" in capsys.readouterr().err
    assert os.path.isdir(tmp_path / "dask.h5.shards") and not os.path.exists(tmp_path / "local.h5.shards")
    local, dask = (open(tmp_path / f"{n}.csv", encoding="utf-8").read() for n in ("local", "dask"))
    assert dask == local and len(local.splitlines()) == 1 + 18


def _featx_without_distributed(*argv: str) -> subprocess.CompletedProcess:
    code = ("import sys; sys.modules['distributed'] = None\n"  # what a missing install looks like to import
            "from featx.pipelines.cli import main\nsys.exit(main(sys.argv[1:]))")
    return subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=300)


def test_without_dask_featx_cv_and_run_say_so_in_one_line(study):
    root, spec = study
    (cache,) = [os.path.join(root, "cache", f) for f in os.listdir(root / "cache") if f.endswith(".h5")]
    want = "error: a cluster needs dask and distributed"
    cv = _featx_without_distributed("cv", cache, "--cluster", "local:2")
    assert cv.returncode == 2 and cv.stdout == ""
    (line,) = cv.stderr.splitlines()
    assert line.startswith(want) and line.endswith("install them: pip install 'dask[distributed]'"), cv.stderr

    run = _featx_without_distributed("run", spec("nodask"), "--cluster", "local:2")
    assert run.returncode == 2 and "Traceback" not in run.stderr
    errors = [l for l in run.stderr.splitlines() if l.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith(want) and run.stderr.rstrip().endswith(errors[0]), run.stderr


def test_the_spec_checks_its_cluster_key(tmp_path):
    from featx.pipelines import SpecError
    from featx.pipelines._spec import load_spec

    base = {"sources": [{"path": str(tmp_path)}]}
    assert load_spec({**base, "cluster": "tcp://head:8786"}, check_sources=False).cluster == "tcp://head:8786"
    assert load_spec(base, check_sources=False).cluster is None
    for bad, message in (("local:0", "write 'local:N' with N >= 1"), (2, "expected 'local:N', a scheduler address")):
        with pytest.raises(SpecError, match=rf"cluster: .*{re.escape(message)}"):
            load_spec({**base, "cluster": bad}, check_sources=False)
