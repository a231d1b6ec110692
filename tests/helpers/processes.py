"""Waiting for a job that stops itself at a planned point (``helpers.paused_featx``)."""

from __future__ import annotations

import os
import time

PAUSED_FEATX = os.path.join(os.path.dirname(os.path.abspath(__file__)), "paused_featx.py")


def state(pid: int) -> str:
    """The process state letter from /proc (``R``, ``S``, ``T`` stopped, ``Z`` zombie), ``""`` when gone."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return ""


def wait_stopped(marker: str, *, pid: int | None = None, proc=None, within: float = 300) -> str:
    """Wait until the job wrote ``marker`` and the process that wrote it (``pid``, or the pid at the
    start of the marker) is stopped; returns the marker's text. Fails the test when ``proc`` ends
    first (with its output) or nothing stops within ``within`` seconds (a hang guard only)."""
    deadline = time.monotonic() + within
    while True:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the job ended (exit {proc.returncode}) before its planned stop point: "
                                 f"{proc.communicate()}")
        if os.path.exists(marker):
            with open(marker) as fh:
                text = fh.read()
            who = pid if pid is not None else int(text.split()[0])
            if state(who) == "T":
                return text
        assert time.monotonic() < deadline, f"the job did not reach its stop point ({marker}) within {within:.0f} s"
        time.sleep(0.02)


def sigkill_at_stop(args, env, marker: str, *, within: float = 600) -> int:
    """Run ``featx ARGS`` through ``paused_featx.py`` with ``env`` (which names a stop point that
    writes ``marker``), SIGKILL it once it stopped there and return its exit status."""
    import signal
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, PAUSED_FEATX, *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        wait_stopped(marker, pid=proc.pid, proc=proc, within=within)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode
