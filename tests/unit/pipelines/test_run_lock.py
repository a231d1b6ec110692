"""Two ``featx run`` jobs on one output folder: the second fails fast with one clear line; a lock
left by a killed process is stale and taken over."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from featx.pipelines._spec import to_toml
from helpers.testdata import write_colour_dataset
from helpers.pipeline import tiny_spec

HOLD = "import sys, time; from featx.common.files import FileLock; l = FileLock(sys.argv[1]).acquire(); print('held', flush=True); time.sleep(600)"


def _featx(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "featx.pipelines", *args], capture_output=True, text=True, timeout=timeout)


def test_second_run_on_same_output_fails_fast_then_stale_lock_is_taken_over(tmp_path):
    src = write_colour_dataset(tmp_path / "colours", per_class=4)
    out = str(tmp_path / "out")
    spec = tiny_spec(src, out, report={"fractions": [1.0], "learning_curve": False, "pca_plot": False},
                     classify={"heads": ["centroid"], "grids": {}})
    spec_path = tmp_path / "study.toml"
    spec_path.write_text(to_toml(spec))
    # another process (a real one) holds the output folder's lock, as a running job would
    holder = subprocess.Popen([sys.executable, "-c", HOLD, out], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        second = _featx("run", str(spec_path), timeout=120)
        assert second.returncode == 2
        errors = [line for line in second.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and "another featx process" in errors[0] and str(holder.pid) in errors[0], second.stderr
        assert "Traceback" not in second.stderr
        # refused before any work: no stage after the spec check began, nothing written
        assert "[extract]" not in second.stderr and not os.path.exists(os.path.join(out, "cache"))
        assert not os.path.exists(os.path.join(out, "results.json"))
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    # the holder died without releasing: its lock file is still there, and is taken over
    assert os.path.exists(out + ".lock")
    third = _featx("run", str(spec_path))
    assert third.returncode == 0, third.stderr
    assert os.path.exists(os.path.join(out, "results.json"))
