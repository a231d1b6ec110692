"""Chaos soak of ``featx run`` (issue 7): a real pipeline subprocess is SIGKILLed in its different
stages (startup, extract, cv, learning curve / PCA, report), rerun at once after every kill, then
left to finish. Every kill but the start-up ones lands where the job stopped itself
(``helpers.paused_featx``), never at a moment timed from outside. The extraction cache must equal an uninterrupted run's bit for bit, and
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
import sys
import time

import numpy as np
import pytest

from helpers.chaos import (
    after_seconds, assert_same_cache, chaos_run, chaos_seed, done_rows, featx_command, last_stage, planned_stop, report,
    tmp_leftovers, write_chaos_images,
)
from helpers.paused_featx import MODES as PAUSE_MODES
from helpers.processes import PAUSED_FEATX

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


def _plan(rng, clean: dict, total: int, logs, *, startup: int, extract: int, cv: int, late: int,
          report_kills: int) -> tuple[list, dict]:
    """Kills in stage order, each where the job stops itself first (``helpers.paused_featx``),
    so none can miss its stage; returns the triggers and, per attempt, its stop point:

    - start-up: at a random moment of the first seconds (imports, spec check, model build);
    - extract: at a random batch and point of writing (``FEATX_CHAOS_PAUSE``), one in each of
      equal slices of 5%..85% of the rows;
    - cv: once the result cache holds a random number of entries short of all of them, the
      configurations after it in flight (``FEATX_PAUSE_AFTER_CV``);
    - learning curve or PCA, and report: as the stage starts (``FEATX_PAUSE_AT_STAGE``)."""
    os.makedirs(logs, exist_ok=True)
    configs = len(clean["records"])
    attempts: list = [("seconds", float(rng.uniform(0.3, 2.0)), None) for _ in range(startup)]
    edges = np.linspace(0.05, 0.85, extract + 1) * total
    for lo, hi in zip(edges[:-1], edges[1:]):
        attempts.append(("FEATX_CHAOS_PAUSE", int(rng.uniform(lo, hi)), str(rng.choice(PAUSE_MODES))))
    for held in sorted(rng.choice(np.arange(1, configs), size=min(cv, configs - 1), replace=False).tolist()):
        attempts.append(("FEATX_PAUSE_AFTER_CV", int(held), None))
    for _ in range(late):
        attempts.append(("FEATX_PAUSE_AT_STAGE", str(rng.choice(["learning_curve", "pca"])), None))
    for _ in range(report_kills):
        attempts.append(("FEATX_PAUSE_AT_STAGE", "report", None))
    triggers, pauses = [], {}
    for k, (kind, value, mode) in enumerate(attempts):
        if kind == "seconds":
            triggers.append(after_seconds(value))
            continue
        spec = f"{value}:{mode}" if mode else str(value)
        trigger, pauses[k] = planned_stop(logs, k, kind, spec, f"{kind}={spec}")
        triggers.append(trigger)
    return triggers, pauses


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
    triggers, pauses = _plan(rng, clean, total, tmp_path / "logs", **kills)
    record = chaos_run([sys.executable, PAUSED_FEATX, "run", spec_path], triggers, workdir=tmp_path / "logs",
                       probe=_probe(out, cache_name), env=_env(), seed=seed, stage_of=_stage, final_timeout=1800,
                       attempt_env=lambda k: pauses.get(k, {}))
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
