"""The cluster across a real network: hosts made by the test itself (``helpers.netns``: Linux
network namespaces joined by veth pairs on a bridge, addresses 10.213.1.0/24 chosen here, none in
the root namespace). The scheduler (``dask scheduler``) runs in one namespace, two ``dask worker``
processes started by their CLI in two others, each in a mount namespace of its own
(``unshare -m``), and the featx client (``featx extract --cluster tcp://10.213.1.1:8786``) in the
scheduler's namespace.

- a worker cut off mid-shard (``ip link set eth0 down`` at the planned stop point where it has
  written part of its shard, then killed: its host is gone) has its task retried on the other
  worker, which resumes the shard; the cache is bitwise equal to a one-process extraction;
- a worker behind a slow link (``tc netem delay 200ms``; a rate-limited ``tbf`` link where the
  kernel has no netem) still finishes, equal;
- a worker whose mount namespace lacks the images (an empty folder mounted over them) is named in
  one line before any shard is computed.

Every wait is bounded (a hang guard, never a timing the result depends on); the namespaces and
processes are removed in a fixture's teardown, also on failure. Skips only where namespaces
cannot be made (tried for real). The cut-off and slow-link cases (~45 s and ~25 s) are ``slow``
(``make soak``); the missing-images case runs in the regular suite."""

from __future__ import annotations

import glob
import os
import signal
import subprocess
import sys

import pytest

from helpers.netns import Network, namespaces_available, qdisc_available, wait_for_text
from helpers.processes import wait_stopped
from helpers.testdata import write_colour_dataset
from featx.extract import extract

from helpers.cluster_models import assert_equal_caches, tiny_checkpoint

DEADLINE = 240  # seconds: a hang guard only, never reached by a healthy run
DASK = os.path.join(os.path.dirname(sys.executable), "dask")
PRELOAD = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "helpers", "netns_preload.py")
PORT = 8786  # the scheduler's namespace is the test's own: no other process listens there

_why = namespaces_available()
pytestmark = pytest.mark.skipif(bool(_why), reason=f"network namespaces cannot be made here: {_why}")


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    base = tmp_path_factory.mktemp("netns")
    src = write_colour_dataset(base / "data" / "imgs", per_class=22, size=(64, 48))  # 66 images
    return src, tiny_checkpoint(base / "tiny.pt")


@pytest.fixture(scope="module")
def data(images, tmp_path_factory):
    src, model = images
    reference = str(tmp_path_factory.mktemp("netns_one") / "one.h5")
    extract(src, reference, model=model, batch_size=2, workers=0, runtime="openvino", progress=False)
    return src, model, reference


def _env(**extra) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", DASK_DISTRIBUTED__WORKER__DAEMON="False",
               DASK_DISTRIBUTED__SCHEDULER__WORKER_TTL="5s", PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


class Cluster:
    def __init__(self, net: Network, folder: str):
        self.net, self.folder = net, folder
        self.address = f"tcp://{net.scheduler_addr}:{PORT}"
        self.log = os.path.join(folder, "scheduler.log")
        self.scheduler = None
        self.workers: list[subprocess.Popen] = []

    def start(self, mounts=((), ()), env=None) -> None:
        self.scheduler = self.net.start(self.net.scheduler_ns, [DASK, "scheduler", "--host", self.net.scheduler_addr,
                                        "--port", str(PORT), "--no-dashboard"], self.log, env=_env())
        wait_for_text(self.log, "Scheduler at:", within=DEADLINE, procs=[self.scheduler])
        for i, (ns, addr) in enumerate(zip(self.net.worker_ns, self.net.worker_addr)):
            log = os.path.join(self.folder, f"worker{i + 1}.log")
            argv = [DASK, "worker", self.address, "--no-nanny", "--nthreads", "1", "--host", addr, "--name", f"w{i + 1}",
                    "--no-dashboard", "--preload", PRELOAD, "--death-timeout", str(DEADLINE)]
            self.workers.append(self.net.start(ns, argv, log, env=_env(**(env or {})), mounts=list(mounts[i]),
                                               own_mounts=True))
        for i in range(len(self.workers)):
            wait_for_text(os.path.join(self.folder, f"worker{i + 1}.log"), "Registered to:", within=DEADLINE,
                          procs=[self.scheduler, *self.workers])
        wait_for_text(self.log, "Register worker", count=len(self.workers), within=DEADLINE, procs=[self.scheduler])

    def featx(self, *args) -> list[str]:
        return ["ip", "netns", "exec", self.net.scheduler_ns, sys.executable, "-m", "featx.pipelines", *args]


@pytest.fixture
def cluster(tmp_path):
    net = Network(workers=2)
    try:
        yield Cluster(net, str(tmp_path))
    finally:
        net.close()


def _args(data, out, address):
    src, model, _ = data
    return ["extract", src, "-o", out, "--model", model, "--runtime", "openvino", "--batch-size", "2", "--workers", "0",
            "--cluster", address, "--shard-size", "34"]  # 2 shards: 34 and 32 rows


def _logs(cluster) -> str:
    text = []
    for path in sorted(glob.glob(os.path.join(cluster.folder, "*.log"))):
        with open(path, errors="replace") as fh:
            text.append(f"--- {os.path.basename(path)}\n{fh.read()[-2000:]}")
    return "\n".join(text)


@pytest.mark.slow  # ~45 s (make soak); the fast variant in the regular run is the missing-images one
def test_worker_cut_off_mid_shard_is_retried_on_the_other_worker(data, cluster, tmp_path):
    marker = str(tmp_path / "paused")
    cluster.start(env={"FEATX_PAUSE_MID_SHARD": marker})
    out = str(tmp_path / "out" / "joined.h5")
    os.makedirs(os.path.dirname(out))
    client = subprocess.Popen(cluster.featx(*_args(data, out, cluster.address)), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        holder, shard = wait_stopped(marker, proc=client, within=DEADLINE).split(" ", 1)
        pid = int(holder)
        worker = next(w for w in cluster.workers if w.pid == pid)  # the worker process itself (every wrapper execs)
        ns = cluster.net.worker_ns[cluster.workers.index(worker)]
        cluster.net.link(ns, "down")  # cut off: nothing it sends reaches the scheduler any more
        os.kill(pid, signal.SIGKILL)  # and its host is gone (it never comes back to write the shard)
        stdout, stderr = client.communicate(timeout=DEADLINE)
    finally:
        if client.poll() is None:
            os.killpg(client.pid, signal.SIGKILL)
            client.wait()
    assert client.returncode == 0, f"{stderr}\n{_logs(cluster)}"
    summary = stdout.strip().splitlines()[-1]
    assert "2 shard(s): 2 run, 0 unchanged, 1 resumed" in summary and "1 worker(s) lost, 1 task(s) retried" in summary, summary
    assert f"at {cluster.address}" in summary, summary
    assert_equal_caches(data[2], out)


@pytest.mark.slow  # ~25 s each (make soak)
@pytest.mark.parametrize("qdisc", [("netem", "delay", "200ms"), ("tbf", "rate", "256kbit", "burst", "16kbit", "latency", "2s")],
                         ids=["netem-delay-200ms", "tbf-256kbit"])
def test_a_slow_worker_still_finishes_equal(data, cluster, tmp_path, qdisc):
    why = qdisc_available(*qdisc)
    if why:
        pytest.skip(f"this kernel has no {qdisc[0]} queueing discipline ({why}); no module can be loaded here")
    cluster.start()
    cluster.net.tc(cluster.net.worker_ns[1], "qdisc", "add", "dev", "eth0", "root", *qdisc)
    out = str(tmp_path / "out" / "joined.h5")
    os.makedirs(os.path.dirname(out))
    res = subprocess.run(cluster.featx(*_args(data, out, cluster.address)), capture_output=True, text=True,
                         timeout=DEADLINE)
    assert res.returncode == 0, f"{res.stderr}\n{_logs(cluster)}"
    summary = res.stdout.strip().splitlines()[-1]
    assert "2 shard(s): 2 run" in summary and "0 worker(s) lost" in summary and "2 worker(s)" in summary, summary
    assert_equal_caches(data[2], out)


def test_a_worker_without_the_images_is_named_in_one_line_before_any_work(images, cluster, tmp_path):
    src = images[0]
    # the second worker's mount namespace has an empty folder over the images: the folder is there, its files are not
    cluster.start(mounts=((), (f"mount -t tmpfs featx-empty {src}",)))
    out = str(tmp_path / "out" / "joined.h5")
    os.makedirs(os.path.dirname(out))
    res = subprocess.run(cluster.featx(*_args((*images, None), out, cluster.address)), capture_output=True, text=True,
                         timeout=DEADLINE)
    assert res.returncode == 2, f"{res.stdout}\n{res.stderr}"
    lines = res.stderr.strip().splitlines()
    w2 = f"tcp://{cluster.net.worker_addr[1]}:"
    assert len(lines) == 1 and lines[0].startswith(f"error: worker {w2}") and "cannot see" in lines[0], lines
    assert os.path.join(src, "blue") in lines[0], lines[0]  # the first image it lacks
    assert not glob.glob(out + ".shards/*.h5") and not os.path.exists(out)  # no shard was computed
