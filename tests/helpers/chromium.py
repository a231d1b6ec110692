"""Headless Chromium for the render tests: find the binary (skip when absent, fail instead when
FEATX_REQUIRE_CHROMIUM is set, as CI does), run it, read what a probe script printed."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    if os.environ.get("FEATX_REQUIRE_CHROMIUM"):
        pytest.fail("no chromium binary found and FEATX_REQUIRE_CHROMIUM is set (apt-get install chromium)")
    pytest.skip("chromium is not installed (apt-get install chromium); set FEATX_REQUIRE_CHROMIUM to require it")


def browser(binary: str, profile: str, *args: str) -> subprocess.CompletedProcess:
    cmd = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
           f"--user-data-dir={profile}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def probe_values(binary: str, page: str, probe: str, folder) -> dict:
    """Load ``page`` with the ``probe`` script appended in headless Chromium and return the
    ``key=value`` pairs it printed between ``PROBE`` and ``END`` (the DOM after load)."""
    probe_page = folder / "probe.html"
    probe_page.write_text(page.replace("</body>", probe + "</body>"), encoding="utf-8")
    done = browser(binary, str(folder / "profile"), "--virtual-time-budget=10000", "--window-size=1280,2000",
                   "--dump-dom", probe_page.as_uri())
    found = re.search(r"PROBE (.*?) END", done.stdout)
    assert found, f"no probe output (exit {done.returncode}): {done.stderr[-2000:]}"
    return dict(kv.split("=", 1) for kv in found.group(1).split())
