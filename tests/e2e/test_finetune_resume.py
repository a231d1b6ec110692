"""``featx finetune`` killed with SIGKILL mid-training, rerun: it resumes from its last epoch, the
history continues, and the result equals an uninterrupted run's. The kill lands at a planned stop
point (right after epoch 2's resume state is written), never "soon enough"."""

import os
import signal
import subprocess
import sys

import pytest
import torch

from helpers.testdata import write_colour_dataset
from helpers.processes import sigkill_at_stop
from featx.extract import read_checkpoint
from featx.extract.finetune import finetune

EPOCHS = 5


def _command(src, out):
    return [sys.executable, "-m", "featx.pipelines", *_args(src, out)]


def _args(src, out):
    return ["finetune", src, "-o", out, "--weights", "none",
            "--input-size", "32", "--strategy", "full", "--epochs", str(EPOCHS), "--patience", "0",
            "--batch-size", "8", "--workers", "0"]


def _env():
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env.pop("FEATX_DEBUG", None)
    return env


def test_sigkill_then_rerun_resumes(tmp_path):
    src = write_colour_dataset(tmp_path / "colours", per_class=8)
    out = str(tmp_path / "model.pt")
    resume = out + ".resume"
    marker = str(tmp_path / "paused")  # the planned stop point: right after epoch 2's resume state
    status = sigkill_at_stop(_args(src, out), dict(_env(), FEATX_PAUSE_AFTER_EPOCHS=f"2:{marker}"), marker, within=300)
    assert status == -signal.SIGKILL
    assert not os.path.exists(out)
    state = torch.load(resume, weights_only=True)
    done = int(state["epoch"])
    assert done == 2
    assert [h["epoch"] for h in state["history"]] == list(range(1, done + 1))

    rerun = subprocess.run(_command(src, out), env=_env(), capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    assert f"resuming {out} after epoch {done} of {EPOCHS}" in rerun.stderr
    epochs_run = [line.split()[1] for line in rerun.stderr.splitlines() if line.startswith("epoch ")]
    assert epochs_run == [f"{e}/{EPOCHS}" for e in range(done + 1, EPOCHS + 1)]
    assert f"resumed after epoch {done}" in rerun.stdout
    assert not os.path.exists(resume) and os.path.exists(out)

    ckpt = read_checkpoint(out)
    history = ckpt["history"]
    assert [h["epoch"] for h in history] == list(range(1, EPOCHS + 1))
    assert history[:done] == state["history"]

    # the same settings never interrupted (in this process, also on one thread) give the same model
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        clean = finetune(src, tmp_path / "clean.pt", weights="none", input_size=32, strategy="full", epochs=EPOCHS,
                         patience=0, batch_size=8, workers=0, progress=False)
    finally:
        torch.set_num_threads(threads)
    for a, b in zip(clean.history, history):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-5, abs=1e-6)
    for k, v in clean.module.state_dict().items():
        torch.testing.assert_close(v, ckpt["state_dict"][k], rtol=1e-5, atol=1e-6)
