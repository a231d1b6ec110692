"""Run a few lines of Python in a fresh interpreter and see which modules they imported: the
structural check that importing featx (or building part of it) stays light."""

from __future__ import annotations

import json
import subprocess
import sys


def fresh_run(code: str, watch) -> tuple[str, list[str]]:
    """``(stdout, imported)`` of ``code`` run by a new ``python -c``: ``imported`` lists the
    modules of ``watch`` found in ``sys.modules`` afterwards (sorted); a failing ``code`` fails
    the caller with its stderr."""
    tail = f"\nimport json as _j, sys as _s\nprint(_j.dumps(sorted(m for m in {list(watch)!r} if m in _s.modules)))\n"
    out = subprocess.run([sys.executable, "-c", code + tail], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    *lines, last = out.stdout.splitlines()
    return "\n".join(lines), json.loads(last)
