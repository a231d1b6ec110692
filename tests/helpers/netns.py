"""Hosts made by a test: Linux network namespaces joined by veth pairs, with addresses the test
chooses, for a Dask cluster across a real (virtual) network.

:class:`Network` makes one namespace for the scheduler (which also holds the bridge, ``br0``,
at ``10.213.1.1/24``) and one per worker (``eth0`` at ``10.213.1.2``, ``.3``, ...), each joined
to the bridge by its own veth pair. Nothing is added to the root namespace: every address the
cluster uses lives in the namespaces made here. :meth:`Network.start` runs a command inside a
namespace (``ip netns exec``), optionally in a mount namespace of its own (``unshare -m``) with
mounts done first; :meth:`Network.close` kills every process it started (by pid) and deletes the
namespaces, also after a failure.
"""

from __future__ import annotations

import itertools
import os
import shlex
import signal
import subprocess
import time

SUBNET = "10.213.1"
_names = itertools.count()


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30, check=check)


def namespaces_available() -> str:
    """'' when this process can make a network namespace (tried for real), else the reason."""
    name = f"ftxprobe{os.getpid()}"
    try:
        made = ip("netns", "add", name, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"cannot run 'ip netns add': {exc}"
    if made.returncode:
        return f"cannot make a network namespace ('ip netns add' says: {made.stderr.strip()}); needs root"
    ip("netns", "del", name, check=False)
    return ""


def qdisc_available(kind: str, *args: str) -> str:
    """'' when the kernel has the traffic-control qdisc ``kind`` (tried on a veth in a namespace)."""
    name = f"ftxq{os.getpid()}"
    ip("netns", "add", name)
    try:
        ip("-n", name, "link", "add", "q0", "type", "veth", "peer", "name", "q1")
        res = subprocess.run(["ip", "netns", "exec", name, "tc", "qdisc", "add", "dev", "q0", "root", kind, *args],
                             capture_output=True, text=True, timeout=30)
        return "" if res.returncode == 0 else f"tc qdisc {kind}: {res.stderr.strip()}"
    finally:
        ip("netns", "del", name, check=False)


class Network:
    """A scheduler namespace with a bridge and ``workers`` worker namespaces (see the module docstring)."""

    def __init__(self, workers: int = 2):
        tag = f"ftx{os.getpid() % 100000}n{next(_names)}"
        self.scheduler_ns = f"{tag}s"
        self.worker_ns = [f"{tag}w{i + 1}" for i in range(workers)]
        self.scheduler_addr = f"{SUBNET}.1"
        self.worker_addr = [f"{SUBNET}.{i + 2}" for i in range(workers)]
        self.procs: list[subprocess.Popen] = []
        self.made: list[str] = []
        try:
            self._make()
        except BaseException:
            self.close()
            raise

    def _make(self) -> None:
        s = self.scheduler_ns
        for ns in [s, *self.worker_ns]:
            ip("netns", "add", ns)
            self.made.append(ns)
            ip("-n", ns, "link", "set", "lo", "up")
        ip("-n", s, "link", "add", "br0", "type", "bridge")
        ip("-n", s, "addr", "add", f"{self.scheduler_addr}/24", "dev", "br0")
        ip("-n", s, "link", "set", "br0", "up")
        for i, (ns, addr) in enumerate(zip(self.worker_ns, self.worker_addr)):
            ip("-n", s, "link", "add", f"v{i + 1}", "type", "veth", "peer", "name", "eth0", "netns", ns)
            ip("-n", s, "link", "set", f"v{i + 1}", "master", "br0", "up")
            ip("-n", ns, "addr", "add", f"{addr}/24", "dev", "eth0")
            ip("-n", ns, "link", "set", "eth0", "up")

    def start(self, ns: str, argv: list[str], log: str, *, env: dict | None = None, mounts: list[str] = (),
              own_mounts: bool = False) -> subprocess.Popen:
        """Run ``argv`` in namespace ``ns``, output to the file ``log``. ``own_mounts``: in a mount
        namespace of its own (``unshare -m``, private propagation), after the shell commands ``mounts``.
        The process started is the command itself (each wrapper execs it), so its pid is ``argv``'s."""
        cmd = ["ip", "netns", "exec", ns]
        if own_mounts:
            script = "; ".join([*mounts, "exec " + shlex.join(argv)]) if mounts else "exec " + shlex.join(argv)
            cmd += ["unshare", "-m", "--propagation", "private", "sh", "-ec", script]
        else:
            cmd += argv
        with open(log, "ab") as fh:
            proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        self.procs.append(proc)
        return proc

    def run(self, ns: str, argv: list[str], *, timeout: float, env: dict | None = None) -> subprocess.CompletedProcess:
        """Run ``argv`` in ``ns`` to its end (a hang guard of ``timeout`` seconds)."""
        return subprocess.run(["ip", "netns", "exec", ns, *argv], capture_output=True, text=True, timeout=timeout, env=env)

    def link(self, ns: str, state: str) -> None:
        """``ip link set eth0 up|down`` in a worker's namespace: its only way onto the network."""
        ip("-n", ns, "link", "set", "eth0", state)

    def tc(self, ns: str, *args: str) -> None:
        subprocess.run(["ip", "netns", "exec", ns, "tc", *args], check=True, capture_output=True, text=True, timeout=30)

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    pass
        for ns in reversed(self.made):
            ip("netns", "del", ns, check=False)
        self.made.clear()


def wait_for_text(log: str, text: str, *, count: int = 1, within: float, procs=()) -> None:
    """Wait until the file ``log`` holds ``text`` ``count`` times (a hang guard of ``within`` s);
    fails at once, with the log, when one of ``procs`` ends first."""
    deadline = time.monotonic() + within
    while True:
        try:
            with open(log, errors="replace") as fh:
                held = fh.read()
        except OSError:
            held = ""
        if held.count(text) >= count:
            return
        ended = [p for p in procs if p.poll() is not None]
        assert not ended, f"{ended[0].args} ended (exit {ended[0].returncode}) before {text!r} appeared:\n{held[-3000:]}"
        assert time.monotonic() < deadline, f"{text!r} did not appear in {log} within {within:.0f} s:\n{held[-3000:]}"
        time.sleep(0.05)
