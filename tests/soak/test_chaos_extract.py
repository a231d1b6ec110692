"""Chaos soak of ``featx extract`` (issue 7): a real extraction subprocess is SIGKILLed at random
points (seeded, recorded), rerun at once after every kill, then left to finish; the cache must
equal an uninterrupted run's row for row and bit for bit (paths, labels, hashes, failures, done
flags, every feature value), no row finished before a kill may be lost, and no temporary file may
be left behind.

The slow variant (``make soak``) kills an extraction of 5,000 generated images at least 5 times;
the fast one runs in the regular CI on 240 images with 2 kills. ``FEATX_CHAOS_SEED`` replays a run.

A kill while rows are written must land with work left on any machine: timed from outside, a fast
or idle machine once finished all 240 rows between the trigger and the kill. So those attempts run
through ``tests/helpers/paused_featx.py``: the job stops itself (SIGSTOP) at the planned batch - before it is
written, half written (features flushed, done flags not) or just after - and is killed there.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import numpy as np
import pytest

from helpers.chaos import (
    after_seconds, assert_same_cache, chaos_run, chaos_seed, done_rows, featx_command, planned_stop, report, tmp_leftovers,
    when, write_chaos_images,
)

# random weights (--weights none): small and fast on a CPU, and torchvision only (no timm import:
# every rerun pays the start-up again)
MODEL = "torchvision:mobilenet_v3_small"
LAYERS = "features.3,penultimate"


PAUSED_FEATX = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "helpers", "paused_featx.py")
PAUSE_MODES = ("before", "mid", "after")


def _command(src, out, batch_size: int, paused: bool = False) -> list[str]:
    args = ["extract", str(src), "-o", str(out), "--model", MODEL, "--weights", "none", "--layers", LAYERS,
            "--batch-size", str(batch_size), "--workers", "1", "--device", "cpu"]
    return [sys.executable, PAUSED_FEATX, *args] if paused else featx_command(*args)


def _env() -> dict:
    # one torch thread: on a busy 2-core machine two threads per job (plus its decoding worker) run
    # 2-3x slower; the clean and the chaos run use the same settings, so their features are comparable bit for bit
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env.pop("FEATX_DEBUG", None)
    return env


def _rows_probe(path):
    def probe() -> dict:
        rows = done_rows(path)
        return {} if rows is None else {"rows": rows}
    return probe


def _stager(folder):
    def stage(log: str, start: dict, end: dict) -> str:
        """Where an extraction kill landed: while the cache file was created ('create': its
        temporary file is left), before the first new row ('startup': imports, model, cache check)
        or while rows were written ('extract')."""
        if tmp_leftovers(folder):
            return "create"
        if end.get("rows", 0) > start.get("rows", 0):
            return "extract"
        return "startup"
    return stage


def _creating(folder):
    """Due while the cache file is being created (its temporary file is there) or, should the
    polling miss that moment, as soon as the cache exists."""
    def predicate(obs) -> bool:
        names = os.listdir(folder)
        return any(".tmp-" in n for n in names) or any(n.endswith(".h5") for n in names)
    return predicate


def _plan(rng: np.random.Generator, kills: int, total: int, logs: str, startup_kills: int = 1,
          create_kill: str | None = None) -> tuple[list, dict]:
    """The kills and, per attempt, the pause it runs with (``FEATX_CHAOS_PAUSE``). With
    ``create_kill`` (the cache's folder), a first kill while the cache file is created;
    ``startup_kills`` kills at a random moment of the first seconds (imports, model build, cache
    check); the rest at a random batch and point of writing, one in each of equal slices of
    5%..85% of the rows (so at least 15% of the rows are always left)."""
    row_kills = kills - startup_kills - (1 if create_kill else 0)
    edges = np.linspace(0.05, 0.85, row_kills + 1) * total
    planned = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        target, mode = int(rng.uniform(lo, hi)), str(rng.choice(PAUSE_MODES))
        planned.append((target, mode))
    attempts: list = [("rows", target, mode) for target, mode in planned]
    for _ in range(startup_kills):  # at a random position among the row kills
        attempts.insert(int(rng.integers(0, len(attempts) + 1)), ("seconds", float(rng.uniform(0.2, 1.2)), None))
    if create_kill:
        attempts.insert(0, ("create", None, None))
    triggers, pauses = [], {}
    for k, (kind, value, mode) in enumerate(attempts):
        if kind == "rows":
            trigger, pauses[k] = planned_stop(logs, k, "FEATX_CHAOS_PAUSE", f"{value}:{mode}",
                                              f"paused at rows >= {value} ({mode})")
            triggers.append(trigger)
        elif kind == "seconds":
            triggers.append(after_seconds(value))
        else:
            triggers.append(when(_creating(create_kill), "cache file being created"))
    return triggers, pauses


def _chaos_extract(tmp_path, request, *, name: str, images: int, kills: int, batch_size: int, startup_kills: int,
                   create_kill: bool = False):
    seed = chaos_seed()
    t_data = time.monotonic()
    data = write_chaos_images(tmp_path / "imgs", images, seed=7)
    data_seconds = time.monotonic() - t_data
    total = images + data["broken"]
    clean = tmp_path / "clean" / "feats.h5"
    os.makedirs(clean.parent)
    t = time.monotonic()
    done = subprocess.run(_command(data["root"], clean, batch_size), env=_env(), capture_output=True, text=True,
                          timeout=1200)
    clean_seconds = time.monotonic() - t
    assert done.returncode == 0, done.stderr[-3000:]

    out = tmp_path / "chaos" / "feats.h5"
    os.makedirs(out.parent)
    rng = np.random.default_rng(seed)
    logs = tmp_path / "logs"
    os.makedirs(logs)
    triggers, pauses = _plan(rng, kills, total, str(logs), startup_kills, str(out.parent) if create_kill else None)
    record = chaos_run(_command(data["root"], out, batch_size, paused=True), triggers, workdir=logs,
                       probe=_rows_probe(out), env=_env(), seed=seed, stage_of=_stager(out.parent),
                       attempt_env=lambda k: pauses.get(k, {}))
    lost = record.lost("rows")
    line = report(record, name, request, rows=total, rows_lost=lost, images=images, broken=data["broken"],
                  orphans=sum(k.orphans for k in record.kills), clean_run=f"{clean_seconds:.1f}s",
                  data=f"{data_seconds:.1f}s")

    assert record.final_returncode == 0, record.final_stderr[-3000:]
    assert record.landed == kills and all(k.landed for k in record.kills), line
    # every kill hit a job with work left: the cache was not complete when it died; a paused job
    # died at its planned batch (the one reaching the target row count, or a later one)
    for k in record.kills:
        assert k.progress.get("rows", 0) < total, f"kill {k.attempt} landed after the last row: {k}"
        if k.attempt in pauses:
            target = int(pauses[k.attempt]["FEATX_CHAOS_PAUSE"].split(":")[0])
            assert k.progress["rows"] >= target - batch_size, f"kill {k.attempt} landed before its batch: {k}"
    assert "extract" in record.stages, f"no kill landed while rows were written: {line}"
    assert lost == 0, f"{lost} finished row(s) were lost across kills: {line}"
    # the final run reused exactly what the last kill left
    m = re.search(r"extracted (\d+) image\(s\), reused (\d+), (\d+) failed", record.final_stdout)
    assert m, record.final_stdout
    assert int(m.group(2)) == record.kills[-1].progress.get("rows", 0), (record.final_stdout, record.kills[-1])
    assert "complete" in record.final_stdout and "incomplete" not in record.final_stdout
    assert int(m.group(3)) == data["broken"]
    rows = assert_same_cache(clean, out)
    assert rows == total
    assert not tmp_leftovers(tmp_path / "chaos", tmp_path / "clean")
    return record


def test_chaos_extract_fast(tmp_path, request):
    """CI: 240 images, 2 kills while rows are written."""
    _chaos_extract(tmp_path, request, name="extract-fast", images=240, kills=2, batch_size=16, startup_kills=0)


@pytest.mark.slow
def test_chaos_extract_soak(tmp_path, request):
    """make soak: 5,000 images, 8 kills: while the cache file is created, once in the first
    seconds of a rerun, six times at random rows."""
    _chaos_extract(tmp_path, request, name="extract-soak", images=5000, kills=8, batch_size=32, startup_kills=1,
                   create_kill=True)
