"""Chaos soak of ``featx finetune`` (issue 7): a real fine-tuning subprocess (many short epochs on
small images, random weights) is SIGKILLed at random points - during startup and at a random batch
of random epochs, where the job stops itself first (``helpers.paused_featx``), so no kill can miss - rerun at once after every kill, then left to finish. The checkpoint must equal an
uninterrupted run's bit for bit (every state_dict tensor, read with featx's weights_only reader),
the history must be the clean one (timings aside), no finished epoch may be lost and no temporary
file may be left.

The slow variant (``make soak``) kills a 12-epoch run 7 times; the fast one runs in the regular CI
with a 4-epoch run and 2 kills.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from helpers.chaos import after_seconds, chaos_run, chaos_seed, featx_command, planned_stop, report, tmp_leftovers
from helpers.processes import PAUSED_FEATX
from helpers.testdata import write_colour_dataset
from featx.extract import read_checkpoint

EPOCH_LINE = re.compile(r"^epoch\s+(\d+)/(\d+)\s", re.M)
RESUME_LINE = re.compile(r"^resuming .* after epoch (\d+) of (\d+)", re.M)


MODEL = "torchvision:mobilenet_v3_small"  # small, and no timm import at every rerun


BATCH = 8


def _command(src, out, epochs: int, *, paused: bool = False) -> list[str]:
    """``featx finetune`` (through ``paused_featx.py`` with ``paused``: its stop points armed by
    the attempt's environment; the final run has none set, so it runs plain)."""
    args = ("finetune", str(src), "-o", str(out), "--model", MODEL, "--weights", "none", "--input-size", "32",
            "--strategy", "full", "--epochs", str(epochs), "--patience", "0", "--batch-size", str(BATCH),
            "--workers", "1", "--device", "cpu")
    return [sys.executable, PAUSED_FEATX, *args] if paused else featx_command(*args)


def _env() -> dict:
    # one thread: tiny tensors train faster, and a busy 2-core machine does not slow every op down
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env.pop("FEATX_DEBUG", None)
    return env


def _epochs_in_log(log: str) -> int | None:
    """Epochs finished as far as this attempt's log says (None before training started)."""
    if "fine-tuning " not in log:
        return None
    done = [int(m[0]) for m in EPOCH_LINE.findall(log)]
    resumed = [int(m[0]) for m in RESUME_LINE.findall(log)]
    return max(done + resumed + [0])


def _resume_probe(out):
    """Epochs recorded in OUT.resume (read again only when the file changed); after the run the
    checkpoint's history."""
    rpath = f"{out}.resume"
    seen: dict = {}

    def probe() -> dict:
        try:
            st = os.stat(rpath)
        except FileNotFoundError:
            if os.path.exists(out):
                return {"epochs": len(read_checkpoint(str(out))["history"]), "finished": 1}
            return {"epochs": 0} if not seen else {}
        key = (st.st_mtime_ns, st.st_ino, st.st_size)
        if seen.get("key") != key:
            state = torch.load(rpath, map_location="cpu", weights_only=True)
            seen.update(key=key, epochs=int(state["epoch"]))
        return {"epochs": seen["epochs"]}
    return probe


def _stage(log: str, start: dict, end: dict) -> str:
    if "fine-tuning " not in log:
        return "startup"
    return f"epoch {end.get('epochs', 0) + 1}"


def _plan(rng, epochs: int, steps: int, logs, *, epoch_kills: int, startup_kills: int) -> tuple[list, dict]:
    """Kills in random epochs (distinct, never the last, so the run cannot finish first), each at a
    random batch of its epoch where the job stops itself (``FEATX_PAUSE_AT_BATCH``: counted from
    the run's start, so a start-up kill that lands late moves nothing); plus kills at a random
    moment of a start-up (imports, model build, resume). Returns the triggers and, per attempt,
    its stop point."""
    os.makedirs(logs, exist_ok=True)
    targets = sorted(rng.choice(epochs - 1, size=epoch_kills, replace=False).tolist())
    attempts = [("epoch", int(t), int(rng.integers(1, steps + 1))) for t in targets]
    for _ in range(startup_kills):
        attempts.insert(int(rng.integers(0, len(attempts) + 1)), ("seconds", float(rng.uniform(0.2, 1.5)), None))
    triggers, pauses = [], {}
    for k, (kind, value, batch) in enumerate(attempts):
        if kind == "epoch":
            trigger, pauses[k] = planned_stop(logs, k, "FEATX_PAUSE_AT_BATCH", f"{value}:{batch}",
                                              f"stopped at batch {batch} of epoch {value + 1}")
            triggers.append(trigger)
        else:
            triggers.append(after_seconds(value))
    return triggers, pauses


def _chaos_finetune(tmp_path, request, *, name: str, per_class: int, epochs: int, epoch_kills: int, startup_kills: int):
    seed = chaos_seed()
    src = write_colour_dataset(tmp_path / "colours", per_class=per_class, size=(40, 32))
    clean = tmp_path / "clean" / "model.pt"
    os.makedirs(clean.parent)
    t = time.monotonic()
    done = subprocess.run(_command(src, clean, epochs), env=_env(), capture_output=True, text=True, timeout=1200)
    clean_seconds = time.monotonic() - t
    assert done.returncode == 0, done.stderr[-3000:]
    a = read_checkpoint(str(clean))
    assert [h["epoch"] for h in a["history"]] == list(range(1, epochs + 1))
    epoch_seconds = float(np.median([h["seconds"] for h in a["history"]]))
    train = a["extra"]["finetune"]["train_rows"]
    steps = -(-(train if isinstance(train, int) else len(train)) // BATCH)  # batches per epoch

    out = tmp_path / "chaos" / "model.pt"
    os.makedirs(out.parent)
    rng = np.random.default_rng(seed)
    triggers, pauses = _plan(rng, epochs, steps, tmp_path / "logs", epoch_kills=epoch_kills, startup_kills=startup_kills)
    record = chaos_run(_command(src, out, epochs, paused=True), triggers, workdir=tmp_path / "logs",
                       probe=_resume_probe(out), env=_env(), seed=seed, stage_of=_stage,
                       attempt_env=lambda k: pauses.get(k, {}))
    lost = record.lost("epochs")
    line = report(record, name, request, epochs=epochs, epochs_lost=lost, epoch=f"{epoch_seconds:.2f}s",
                  orphans=sum(k.orphans for k in record.kills), clean_run=f"{clean_seconds:.1f}s")

    assert record.final_returncode == 0, record.final_stderr[-3000:]
    assert record.landed == len(triggers) and all(k.landed for k in record.kills), line
    for k in record.kills:  # every kill found training left to do
        assert not k.progress.get("finished") and k.progress.get("epochs", 0) < epochs, k
    assert sum(1 for s in record.stages if s.startswith("epoch")) >= epoch_kills, line
    assert lost == 0, f"{lost} finished epoch(s) were lost across kills: {line}"
    last = record.kills[-1].progress.get("epochs", 0)
    if last:
        assert f"resuming {out} after epoch {last} of {epochs}" in record.final_stderr, record.final_stderr[-2000:]
    assert not os.path.exists(f"{out}.resume")

    b = read_checkpoint(str(out))
    assert sorted(a["state_dict"]) == sorted(b["state_dict"])
    for key, value in a["state_dict"].items():
        other = b["state_dict"][key]
        assert value.dtype == other.dtype and value.shape == other.shape, key
        assert torch.equal(value, other), f"{key} differs from the uninterrupted run's"
    strip = lambda hist: [{k: v for k, v in h.items() if k != "seconds"} for h in hist]  # noqa: E731
    assert strip(a["history"]) == strip(b["history"])
    assert a["arch"] == b["arch"] and a["classes"] == b["classes"] and a["preprocessing"] == b["preprocessing"]
    fa, fb = a["extra"]["finetune"], b["extra"]["finetune"]
    for key in ("best_epoch", "epochs_run", "stopped_early", "train_rows", "val_rows", "skipped", "strategy"):
        assert fa[key] == fb[key], key
    assert a["extra"]["fingerprint"] == b["extra"]["fingerprint"]
    assert not tmp_leftovers(tmp_path / "chaos", tmp_path / "clean")
    return record


def test_chaos_finetune_fast(tmp_path, request):
    """CI: 4 epochs, 2 kills in the middle of random epochs."""
    _chaos_finetune(tmp_path, request, name="finetune-fast", per_class=12, epochs=4, epoch_kills=2, startup_kills=0)


@pytest.mark.slow
def test_chaos_finetune_soak(tmp_path, request):
    """make soak: 12 epochs, 7 kills (6 in random epochs, one during a start-up)."""
    _chaos_finetune(tmp_path, request, name="finetune-soak", per_class=24, epochs=12, epoch_kills=6, startup_kills=1)
