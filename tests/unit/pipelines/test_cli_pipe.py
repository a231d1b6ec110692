"""A closed stdout (``featx info X | head -1``) ends a command quietly, as Unix tools do; other
broken pipes stay errors."""

import shlex
import subprocess
import sys

import pytest

from featx.extract import extract
from helpers.testdata import write_colour_dataset

FEATX = [sys.executable, "-m", "featx.pipelines"]


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp("pipe")
    out = str(root / "c.h5")
    extract(write_colour_dataset(str(root / "colours"), per_class=3), out, weights="none", workers=0, progress=False)
    return out


@pytest.mark.parametrize("args", [["info"], ["info", "--json"]])
def test_reader_gone_before_output_exits_141_silently(cache, args):
    p = subprocess.Popen([*FEATX, *args, cache], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdout.close()  # the reader is gone before featx has written a byte (it is still importing)
    err = p.stderr.read().decode()
    assert p.wait(timeout=300) == 141, err
    assert err == ""


def test_head_of_info_in_a_shell_pipe(cache):
    cmd = shlex.join([*FEATX, "info", cache]) + " | head -1"
    r = subprocess.run(["bash", "-c", "set -o pipefail; " + cmd], capture_output=True, text=True, timeout=300)
    assert r.stdout.startswith("cache ") and r.stdout.count("\n") == 1
    assert r.returncode in (0, 141)  # 0 when featx wrote everything before head closed the pipe
    assert "error" not in r.stderr.lower() and "Exception" not in r.stderr


def test_broken_pipe_other_than_stdout_is_still_an_error():
    code = ("import sys\nfrom featx.pipelines._errors import user_errors\n"
            "with user_errors() as outcome:\n    raise BrokenPipeError(32, 'Broken pipe')\nsys.exit(outcome.code)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 2
    assert r.stderr.strip() == "error: Broken pipe (I/O); check the path, permissions and free space"
