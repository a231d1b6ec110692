"""A small Chrome DevTools Protocol client for the browser tests: headless Chromium started with
``--remote-debugging-port=0`` (the port is read from ``DevToolsActivePort`` in the profile
folder), one page driven over its websocket (websocket-client): ``Runtime.evaluate``,
``Input.dispatchMouseEvent``, ``Page.captureScreenshot``."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import time
import urllib.request

import pytest

from helpers.chromium import chromium


class Browser:
    """``with Browser(tmp_path) as b: page = b.open(url)``; closes Chromium on exit."""

    def __init__(self, folder, width: int = 1400, height: int = 900):
        self.profile = os.path.join(str(folder), "cdp-profile")
        os.makedirs(self.profile, exist_ok=True)
        self.size = (width, height)
        self.proc = None

    def __enter__(self) -> "Browser":
        binary = chromium()
        try:
            import websocket  # noqa: F401 - websocket-client, the dev extra
        except ImportError:
            if os.environ.get("FEATX_REQUIRE_CHROMIUM"):
                pytest.fail("websocket-client is missing and FEATX_REQUIRE_CHROMIUM is set (pip install -e .[dev])")
            pytest.skip("websocket-client is not installed (pip install -e .[dev])")
        port_file = os.path.join(self.profile, "DevToolsActivePort")
        if os.path.exists(port_file):
            os.unlink(port_file)
        self.proc = subprocess.Popen(
            [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
             "--remote-debugging-port=0", "--remote-allow-origins=*", f"--user-data-dir={self.profile}",
             f"--window-size={self.size[0]},{self.size[1]}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if os.path.exists(port_file):
                lines = open(port_file).read().split()
                if len(lines) >= 2:
                    self.port = int(lines[0])
                    return self
            if self.proc.poll() is not None:
                raise RuntimeError(f"chromium exited with {self.proc.returncode} before opening its debugging port")
            time.sleep(0.05)
        self.__exit__(None, None, None)
        raise RuntimeError("chromium did not write DevToolsActivePort within 30 s")

    def __exit__(self, *exc) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def open(self, url: str) -> "Page":
        """The browser's page, navigated to ``url`` (waits for the load event)."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/json/list", timeout=10) as r:
            targets = json.load(r)
        page = Page(next(t for t in targets if t["type"] == "page")["webSocketDebuggerUrl"])
        page.send("Page.enable")
        page.send("Runtime.enable")
        page.send("Emulation.setDeviceMetricsOverride", width=self.size[0], height=self.size[1], deviceScaleFactor=1, mobile=False)
        page.send("Page.navigate", url=url)
        page.wait_event("Page.loadEventFired", 60)
        return page


class Page:
    def __init__(self, ws_url: str):
        import websocket

        self.ws = websocket.create_connection(ws_url, timeout=60, suppress_origin=True)
        self.next_id = 0
        self.events: list[dict] = []

    def send(self, method: str, **params):
        self.next_id += 1
        me = self.next_id
        self.ws.send(json.dumps({"id": me, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == me:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            if "method" in msg:
                self.events.append(msg)

    def wait_event(self, method: str, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for i, e in enumerate(self.events):
                if e["method"] == method:
                    return self.events.pop(i)
            self.ws.settimeout(max(0.1, deadline - time.monotonic()))
            msg = json.loads(self.ws.recv())
            if "method" in msg:
                self.events.append(msg)
        raise TimeoutError(f"no {method} within {timeout} s")

    def js(self, expression: str):
        """The value of ``expression`` in the page (JSON-able), raising on a JavaScript error."""
        r = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            d = r["exceptionDetails"]
            raise RuntimeError(f"{expression[:80]!r}: {d.get('exception', {}).get('description') or d.get('text')}")
        return r["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 30):
        """Poll ``expression`` until it is truthy; returns its value."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            v = self.js(expression)
            if v:
                return v
            time.sleep(0.05)
        raise TimeoutError(f"{expression!r} stayed falsy for {timeout} s")

    def mouse(self, kind: str, x: float, y: float, *, button: str = "none", modifiers: int = 0, clicks: int = 0) -> None:
        """``Input.dispatchMouseEvent``: kind mouseMoved, mousePressed or mouseReleased; modifiers
        1 alt, 2 ctrl, 4 meta, 8 shift."""
        self.send("Input.dispatchMouseEvent", type=kind, x=float(x), y=float(y), button=button, modifiers=modifiers,
                  clickCount=clicks)

    def drag(self, a, b, *, modifiers: int = 0, steps: int = 5) -> None:
        self.mouse("mousePressed", *a, button="left", modifiers=modifiers, clicks=1)
        for s in range(1, steps + 1):
            t = s / steps
            self.mouse("mouseMoved", a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1]), button="left", modifiers=modifiers)
        self.mouse("mouseReleased", *b, button="left", modifiers=modifiers, clicks=1)

    def screenshot(self, path) -> str:
        data = self.send("Page.captureScreenshot", format="png")["data"]
        with open(path, "wb") as fh:
            fh.write(base64.b64decode(data))
        return str(path)
