"""``featx run`` killed with SIGKILL in the middle of a transfer study, then rerun: what finished
(the first strategy's checkpoint and its held-out predictions) is reused as it is, and only the
rest is trained. The kill lands at a planned stop point (right after the first fine-tuned model is
saved), never "soon enough"."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

from featx.pipelines._spec import to_toml
from helpers.processes import sigkill_at_stop
from helpers.transfer import checkpoint_times, split_source, transfer_spec


def _env():
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env.pop("FEATX_DEBUG", None)
    return env


def _finished_checkpoints(output: str) -> list[str]:
    folder = os.path.join(output, "transfer")
    return sorted(n for n in os.listdir(folder) if n.endswith(".pt")) if os.path.isdir(folder) else []


def test_sigkill_mid_study_then_rerun_reuses_what_finished(tmp_path):
    source = split_source(tmp_path / "colours")
    output = str(tmp_path / "out")
    spec = transfer_spec(source, output, strategies=["head", "partial:1"], scratch=False, data_efficiency="off", epochs=2)
    spec_path = tmp_path / "transfer.toml"
    spec_path.write_text(to_toml(spec), encoding="utf-8")
    command = [sys.executable, "-m", "featx.pipelines.cli", "run", str(spec_path)]

    marker = str(tmp_path / "paused")  # the planned stop point: right after the first fine-tuned model is saved
    status = sigkill_at_stop(["run", str(spec_path)], dict(_env(), FEATX_PAUSE_AFTER_MODELS=f"1:{marker}"), marker)
    assert status == -signal.SIGKILL
    assert not os.path.exists(os.path.join(output, "results.json"))
    finished = _finished_checkpoints(output)
    assert len(finished) == 1 and "--pretrained-head--" in finished[0]
    before = checkpoint_times(output)

    rerun = subprocess.run(command, env=_env(), capture_output=True, text=True, timeout=900)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    trained = [line.strip() for line in rerun.stderr.splitlines() if ": trained on " in line]
    assert trained and all(line.startswith("pretrained partial:1 ") for line in trained), trained
    after = checkpoint_times(output)
    assert {k: after[k] for k in before} == before  # nothing that had finished was written again
    with open(os.path.join(output, "results.json"), encoding="utf-8") as fh:
        records = json.load(fh)["transfer"]
    assert [(r["approach"], r["strategy"]) for r in records if r["approach"] != "frozen"] == [
        ("finetuned", "head"), ("finetuned_features", "head"), ("finetuned_features", "head"),
        ("finetuned", "partial:1"), ("finetuned_features", "partial:1"), ("finetuned_features", "partial:1")]
    assert all(r["epochs_run"] == 2 for r in records if r["approach"] == "finetuned")
