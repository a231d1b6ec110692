"""Chaos soak of ``featx run`` (issue 7): a real pipeline subprocess is SIGKILLed in its different
stages (startup, extract, cv, learning curve / PCA, report), rerun at once after every kill, then
left to finish. The extraction cache must equal an uninterrupted run's bit for bit, and
results.json every score of it (records, best configuration, learning curve, PCA, datasets; only
timings and was-cached flags may differ); nothing finished before a kill may be lost and no
temporary file may be left.

The slow variant (``make soak``) runs on 5,000 generated images with 8 kills; the fast one runs
in the regular CI on 120 images with one kill (in cv).
"""

from __future__ import annotations

import json
import os
import subprocess
import time

import numpy as np
import pytest

from chaos import (
    after_seconds, assert_same_cache, chaos_run, chaos_seed, done_rows, featx_command, last_stage, report,
    tmp_leftovers, when, write_chaos_images,
)

MODEL = "torchvision:mobilenet_v3_small"  # small, random weights, no timm import at every rerun


def _spec(source: str, output: str, batch_size: int, extras: bool = True) -> dict:
    """Nested 3x2 CV of logreg (2 candidates) and centroid on two layers; ``extras``: the learning
    curve and PCA stages too."""
    return {
        "title": "chaos soak",
        "output": output,
        "sources": [{"name": "colours", "path": source}],
        "backbones": [{"name": "mnv3s", "model": MODEL, "weights": "none", "layers": ["features.3", "penultimate"]}],
        "extraction": {"batch_size": batch_size, "workers": 1, "device": "cpu"},
        "classify": {"heads": ["logreg", "centroid"], "jobs": 1, "grids": {"logreg": {"clf__C": [0.1, 1.0]}}},
        "cv": {"folds": 3, "inner_folds": 2, "seed": 0},
        "report": {"fractions": [0.5, 1.0], "learning_curve": extras, "pca_plot": extras},
    }


def _write_spec(path, spec: dict) -> str:
    from featx.pipelines._spec import to_toml

    with open(path, "w", encoding="utf-8") as fh:
        fh.write(to_toml(spec))
    return str(path)


def _env() -> dict:
    # one torch thread (see test_chaos_extract); the clean and the chaos run use the same settings
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env.pop("FEATX_DEBUG", None)
    return env


def _caches(output: str) -> list[str]:
    return sorted(n for n in os.listdir(os.path.join(output, "cache")) if n.endswith(".h5"))


def _cv_entries(output: str) -> int:
    try:
        return sum(1 for n in os.listdir(os.path.join(output, "cv-cache")) if n.endswith(".json"))
    except OSError:
        return 0


def _probe(output: str, cache_name: str):
    cache = os.path.join(output, "cache", cache_name)

    def probe() -> dict:
        out = {"cv": _cv_entries(output)}
        rows = done_rows(cache)
        if rows is not None:
            out["rows"] = rows
        return out
    return probe


def _stage(log: str, start: dict, end: dict) -> str:
    """The stage the pipeline had announced when it died ('startup' before its first stage line;
    'validate' covers building and dry-running the backbone)."""
    return last_stage(log) or "startup"


def _rows_in_this_attempt(target: int, batch_size: int):
    first: dict = {}

    def predicate(obs) -> bool:
        if obs.stage != "extract":
            return False
        rows = obs.progress.get("rows")
        if rows is None:
            return False
        first.setdefault("rows", rows)
        return rows >= max(target, first["rows"] + batch_size)
    return predicate


def _cv_in_this_attempt(target: int):
    def predicate(obs) -> bool:
        return obs.stage == "cv" and obs.progress.get("cv", 0) >= target
    return predicate


def _plan(rng, clean: dict, total: int, batch_size: int, *, startup: int, extract: int, cv: int, late: int,
          report_kills: int) -> list:
    """Kills in stage order (a rerun passes quickly through the stages an earlier attempt finished,
    so each kill aims at a stage not done yet), each at a random moment of its stage, scaled by the
    clean run's timings."""
    t = clean["timings"]
    configs = len(clean["records"])
    triggers = []
    for _ in range(startup):
        triggers.append(after_seconds(float(rng.uniform(0.3, 2.0))))
    edges = np.linspace(0.05, 0.85, extract + 1) * total
    for lo, hi in zip(edges[:-1], edges[1:]):
        target = int(rng.uniform(lo, hi))
        triggers.append(when(_rows_in_this_attempt(target, batch_size), f"extract rows >= {target}",
                             delay=float(rng.uniform(0.0, 0.2))))
    # cv: while a logreg configuration (nested grid search: the slow ones) is being fitted, at a
    # random point of its clean fit time; configurations are computed in the records' order
    records = clean["records"]
    slow = [i for i, r in enumerate(records) if r["head"] == "logreg"] or list(range(configs))
    for i in sorted(rng.choice(slow, size=min(cv, len(slow)), replace=False).tolist()):
        seconds = records[i].get("fit_time_total") or t["cv"] / max(1, configs)
        triggers.append(when(_cv_in_this_attempt(int(i)), f"cv config {i} ({records[i]['feature_set']}/{records[i]['head']})",
                             delay=float(rng.uniform(0.0, 0.5 * seconds))))
    for _ in range(late):
        stage = str(rng.choice(["learning_curve", "pca"]))
        triggers.append(when(lambda obs, s=stage: obs.stage == s, f"stage {stage}",
                             delay=float(rng.uniform(0.0, 0.3 * t[stage]))))
    for _ in range(report_kills):
        triggers.append(when(lambda obs: obs.stage == "report", "stage report",
                             delay=float(rng.uniform(0.0, 0.3 * t["report"]))))
    return triggers


def _without(value, keys=("cached",), time_keys=True):
    """``value`` without was-cached flags and timings (the only things a resumed run may change)."""
    if isinstance(value, dict):
        return {k: _without(v, keys, time_keys) for k, v in value.items()
                if k not in keys and not (time_keys and "time" in k)}
    if isinstance(value, list):
        return [_without(v, keys, time_keys) for v in value]
    return value


def _same_results(clean: dict, chaos: dict) -> int:
    """Every score of the two results.json equal, exactly; returns the number of records."""
    key = lambda r: (r["source"], r["backbone"], r["layer"], r["head"])  # noqa: E731
    a = sorted((_without(r) for r in clean["records"]), key=key)
    b = sorted((_without(r) for r in chaos["records"]), key=key)
    assert [key(r) for r in a] == [key(r) for r in b]
    for ra, rb in zip(a, b):
        assert ra == rb, f"record {key(ra)} differs:\n{ra}\n{rb}"
    assert _without(clean["best"]) == _without(chaos["best"])
    assert _without(clean["learning_curves"]) == _without(chaos["learning_curves"])
    assert clean["pca"] == chaos["pca"]
    assert clean["datasets"] == chaos["datasets"]
    assert clean["backbones"] == chaos["backbones"]
    assert clean["main_metric"] == chaos["main_metric"]
    assert sum(clean["cv"].values()) == sum(chaos["cv"].values())
    ea = [_without(e, keys=("cache", "extracted", "reused", "seconds", "images_per_second", "first_extraction"))
          for e in clean["extractions"]]
    eb = [_without(e, keys=("cache", "extracted", "reused", "seconds", "images_per_second", "first_extraction"))
          for e in chaos["extractions"]]
    assert ea == eb
    return len(a)


def _chaos_run(tmp_path, request, *, name: str, images: int, batch_size: int, extras: bool = True, **kills):
    seed = chaos_seed()
    data = write_chaos_images(tmp_path / "imgs", images, seed=11)
    total = images + data["broken"]
    clean_out = str(tmp_path / "clean")
    clean_spec = _write_spec(tmp_path / "clean.toml", _spec(data["root"], clean_out, batch_size, extras))
    t = time.monotonic()
    done = subprocess.run(featx_command("run", clean_spec), env=_env(), capture_output=True, text=True, timeout=1800)
    clean_seconds = time.monotonic() - t
    assert done.returncode == 0, done.stderr[-3000:]
    with open(os.path.join(clean_out, "results.json"), encoding="utf-8") as fh:
        clean = json.load(fh)
    (cache_name,) = _caches(clean_out)

    out = str(tmp_path / "chaos")
    spec_path = _write_spec(tmp_path / "chaos.toml", _spec(data["root"], out, batch_size, extras))
    rng = np.random.default_rng(seed)
    triggers = _plan(rng, clean, total, batch_size, **kills)
    record = chaos_run(featx_command("run", spec_path), triggers, workdir=tmp_path / "logs", probe=_probe(out, cache_name),
                       env=_env(), seed=seed, stage_of=_stage, final_timeout=1800)
    rows_lost, cv_lost = record.lost("rows"), record.lost("cv")
    line = report(record, name, request, rows=total, rows_lost=rows_lost, cv_results_lost=cv_lost,
                  configs=len(clean["records"]), orphans=sum(k.orphans for k in record.kills),
                  clean_run=f"{clean_seconds:.1f}s")

    assert record.final_returncode == 0, record.final_stderr[-3000:]
    assert record.landed == len(triggers) and all(k.landed for k in record.kills), line
    stages = set(record.stages)
    wanted = {stage for stage, n in (("extract", kills["extract"]), ("cv", kills["cv"]), ("report", kills["report_kills"])) if n}
    assert wanted <= stages, f"kills did not land in {', '.join(sorted(wanted))}: {line}"
    assert rows_lost == 0 and cv_lost == 0, line
    for k in record.kills:  # a kill in extract found rows left to do
        if k.stage == "extract":
            assert k.progress.get("rows", 0) < total, k
    assert _caches(out) == [cache_name]
    rows = assert_same_cache(os.path.join(clean_out, "cache", cache_name), os.path.join(out, "cache", cache_name))
    assert rows == total
    with open(os.path.join(out, "results.json"), encoding="utf-8") as fh:
        chaos = json.load(fh)
    _same_results(clean, chaos)
    # the final run reused every cross-validation result the last kill left (learning-curve and PCA
    # entries only exist once all configurations are done) and computed only the others
    configs = len(clean["records"])
    left = min(configs, (record.final_progress_at_start or {}).get("cv", 0))
    assert (chaos["cv"]["cached"], chaos["cv"]["computed"]) == (left, configs - left), (chaos["cv"], left)
    assert os.path.getsize(os.path.join(out, "report.html")) > 1000
    assert not tmp_leftovers(out, clean_out)
    return record


def test_chaos_run_fast(tmp_path, request):
    """CI: 120 images, one kill while a nested-CV configuration is being fitted; the rerun resumes
    from the cv-cache and writes the report. Every kill costs a ``featx run`` start-up (about 10 s
    of CPU: imports, model build and dry runs, plots), so CI keeps one and leaves out the learning
    curve and PCA stages; the extraction's kills are test_chaos_extract's, the rest make soak's."""
    _chaos_run(tmp_path, request, name="run-fast", images=120, batch_size=16, extras=False,
               startup=0, extract=0, cv=1, late=0, report_kills=0)


@pytest.mark.slow
def test_chaos_run_soak(tmp_path, request):
    """make soak: 5,000 images, 8 kills: startup, 3 x extract, 2 x cv, learning curve or PCA, report."""
    _chaos_run(tmp_path, request, name="run-soak", images=5000, batch_size=32,
               startup=1, extract=3, cv=2, late=1, report_kills=1)
