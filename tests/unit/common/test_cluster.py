"""featx.common.cluster: the one cluster setting and connect() on a real loopback cluster."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from featx.common import cluster
from featx.common.options import OptionError


@pytest.mark.parametrize("value, fragment", [
    ("local:0", "N >= 1"), ("local", "local:N"), ("local:x", "local:N"), ("nowhere", "neither"), ("", "expected"),
    (3, "expected"),
])
def test_bad_cluster_values_are_refused_with_the_fix(value, fragment):
    with pytest.raises(OptionError, match=fragment):
        cluster.CLUSTER.check(value)


@pytest.mark.parametrize("value", [None, "local:1", "local:16", "tcp://10.0.0.1:8786", "scheduler:8786"])
def test_good_cluster_values_pass(value):
    assert cluster.CLUSTER.check(value) == value


def test_no_cluster_asked_yields_none():
    with cluster.connect(None) as client:
        assert client is None
    assert not cluster.wanted(None, None)


def test_local_cluster_runs_tasks_in_other_processes_and_closes():
    with cluster.connect("local:2") as client:
        pids = client.run(os.getpid)
        assert len(pids) == 2 and os.getpid() not in pids.values()
        assert client.submit(pow, 2, 10).result() == 1024
        assert cluster.describe(client).startswith("2 worker(s) at tcp://127.0.0.1:")
        # a client passed in is used as it is and left open
        with cluster.connect(client) as same:
            assert same is client
        assert client.status == "running"
    assert client.status == "closed"


def test_unreachable_scheduler_is_one_line():
    with pytest.raises(cluster.ClusterError, match=r"cannot reach tcp://127.0.0.1:9: .*is the scheduler running"):
        with cluster.connect("tcp://127.0.0.1:9", timeout=2):
            pass


def test_missing_scheduler_file_names_the_command(tmp_path):
    missing = tmp_path / "sched.json"
    with pytest.raises(cluster.ClusterError, match="dask scheduler --scheduler-file"):
        with cluster.connect(scheduler_file=str(missing)):
            pass


def test_without_dask_the_error_names_the_install_command():
    code = ("import sys; sys.modules['distributed'] = None\n"
            "from featx.common.cluster import connect, ClusterError\n"
            "try:\n    connect('local:1').__enter__()\nexcept ClusterError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "pip install 'dask[distributed]'" in out.stdout and len(out.stdout.strip().splitlines()) == 1
