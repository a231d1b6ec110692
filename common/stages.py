"""Timed stages of a long job: each stage is announced on stderr (when asked) and its seconds are
added up by name, for the job's results and report."""

from __future__ import annotations

import contextlib
import sys
import time


class Stages:
    """``with stages.run("extract", "extracting features"): ...`` prints ``[extract] extracting
    features`` (when ``progress``) and adds the stage's seconds to ``timings["extract"]``;
    ``say`` prints a line the same way, ``total`` is the seconds since the object was made."""

    def __init__(self, progress: bool):
        self.progress = progress
        self.timings: dict[str, float] = {}
        self._t0 = time.perf_counter()

    def say(self, text: str) -> None:
        if self.progress:
            print(text, file=sys.stderr, flush=True)

    @contextlib.contextmanager
    def run(self, name: str, label: str):
        self.say(f"[{name}] {label}")
        t = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - t

    def total(self) -> float:
        return time.perf_counter() - self._t0
