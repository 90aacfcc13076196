"""Headless Chromium driven over the DevTools protocol, for the dashboard's browser tests.

Debian's `chromium` package (hack/install-packages.sh) is started with a throwaway profile and
`--remote-debugging-port=0`; the port it picked is read from `DevToolsActivePort` in the profile.
One WebSocket to the browser carries every command (flattened target sessions). A page is
read by evaluating JavaScript in it; waits poll a JS condition, and on timeout say what they
waited for, with the page's text and its console errors.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import ClientConnection, connect

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
START_TIMEOUT_S = 30
CALL_TIMEOUT_S = 30


class BrowserError(Exception):
    """Chromium did not start or a DevTools command failed; the message says which."""


def find_chromium() -> str | None:
    """MLROLLOUT_CHROMIUM, else the first Chromium on PATH."""
    explicit = os.environ.get("MLROLLOUT_CHROMIUM")
    if explicit:
        return shutil.which(explicit)  # a path or a name; None if it is not there
    return next((found for name in CHROMIUM_NAMES if (found := shutil.which(name))), None)


def require_chromium() -> str:
    """Chromium's path; without one the test is skipped, or fails when MLROLLOUT_E2E_REQUIRED=1
    (CI sets it: there, a missing browser must not pass as a skip)."""
    found = find_chromium()
    if found is None:
        explicit = os.environ.get("MLROLLOUT_CHROMIUM")
        reason = (
            f"MLROLLOUT_CHROMIUM={explicit} is not an executable"
            if explicit
            else f"no Chromium found (looked for {', '.join(CHROMIUM_NAMES)} on PATH): "
            "apt-get install chromium, or run hack/install-packages.sh"
        )
        if os.environ.get("MLROLLOUT_E2E_REQUIRED") == "1":
            pytest.fail(f"MLROLLOUT_E2E_REQUIRED=1 but {reason}")
        pytest.skip(reason)
    return found


class Chromium:
    """One headless browser process and its DevTools connection."""

    def __init__(self, binary: str, profile: Path) -> None:
        self.binary = binary
        self.profile = profile
        self.log_path = profile.parent / f"{profile.name}-chromium.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._socket: ClientConnection | None = None
        self._ids = itertools.count(1)
        self._closing = contextlib.ExitStack()

    def start(self) -> None:
        self.profile.mkdir(parents=True, exist_ok=True)
        args = [
            self.binary, "--headless=new", "--remote-debugging-port=0",
            f"--user-data-dir={self.profile}", "--no-first-run", "--no-default-browser-check",
            "--disable-gpu", "--disable-dev-shm-usage", "--disable-extensions",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--no-proxy-server", "--hide-scrollbars", "--mute-audio", "--window-size=1280,900",
        ]  # fmt: skip
        if os.geteuid() == 0:
            args.append("--no-sandbox")  # Chromium refuses to run as root with its sandbox
        args.append("about:blank")
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(
                args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        opened = connect(
            self._devtools_url(), max_size=None, proxy=None, open_timeout=START_TIMEOUT_S
        )
        self._socket = self._closing.enter_context(opened)  # websockets 17: as a context

    def _devtools_url(self) -> str:
        """The browser's WebSocket, from `DevToolsActivePort` (port, then path)."""
        marker = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                raise BrowserError(
                    f"{self.binary} exited with {self._process.returncode}:\n{self.log_tail()}"
                )
            lines = marker.read_text().split() if marker.exists() else []
            if len(lines) >= 2:
                return f"ws://127.0.0.1:{lines[0]}{lines[1]}"
            time.sleep(0.05)
        raise BrowserError(f"{self.binary} gave no DevTools port in {START_TIMEOUT_S}s:\n"
                           f"{self.log_tail()}")  # fmt: skip

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._closing.close()
        if self._process is not None and self._process.poll() is None:
            os.killpg(self._process.pid, signal.SIGTERM)  # its own session: the wrapper too
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait(10)

    def call(
        self, method: str, params: dict[str, Any] | None = None, session: str | None = None,
        timeout_s: float = CALL_TIMEOUT_S, on_event: Any = None,
    ) -> dict[str, Any]:  # fmt: skip
        """One DevTools command; events that arrive meanwhile go to ``on_event``."""
        assert self._socket is not None, "start() first"
        message: dict[str, Any] = {"id": next(self._ids), "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        self._socket.send(json.dumps(message))
        deadline = time.monotonic() + timeout_s
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BrowserError(f"no answer to {method} in {timeout_s:.0f}s")
            reply = json.loads(self._socket.recv(timeout=remaining))
            if reply.get("id") == message["id"]:
                if "error" in reply:
                    raise BrowserError(f"{method} failed: {reply['error']}")
                result: dict[str, Any] = reply.get("result", {})
                return result
            if on_event is not None and "method" in reply:
                on_event(reply)

    def open(self, url: str, width: int = 1280, height: int = 900) -> Page:
        """A new tab showing ``url``, once its document has loaded."""
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        attached = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})
        page = Page(self, attached["sessionId"])
        page.call("Runtime.enable")
        page.call("Page.enable")
        metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}
        page.call("Emulation.setDeviceMetricsOverride", metrics)
        page.navigate(url)
        return page


class Page:
    """One tab: evaluate JavaScript, wait for a condition, take a screenshot."""

    def __init__(self, browser: Chromium, session: str) -> None:
        self.browser = browser
        self.session = session
        self.console: list[str] = []  # console errors and uncaught exceptions, for diagnostics

    def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.browser.call(method, params, self.session, on_event=self._event)

    def _event(self, event: dict[str, Any]) -> None:
        if event.get("sessionId") != self.session:
            return
        params = event.get("params", {})
        if event["method"] == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            thrown = details.get("exception", {}).get("description") or details.get("text")
            self.console.append(f"uncaught: {thrown}")
        elif event["method"] == "Runtime.consoleAPICalled" and params.get("type") in (
            "error", "warning", "assert"
        ):  # fmt: skip
            texts = [str(a.get("value", a.get("description", ""))) for a in params.get("args", [])]
            self.console.append(f"console.{params['type']}: {' '.join(texts)}")

    def navigate(self, url: str, timeout_s: float = 30) -> None:
        self.call("Page.navigate", {"url": url})
        self.wait_for("document.readyState === 'complete'", timeout_s, f"{url} to load")

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression (JSON-serializable), awaited if a promise."""
        result = self.call(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
        )
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            thrown = details.get("exception", {}).get("description") or details.get("text")
            raise BrowserError(f"{expression!r} threw: {thrown}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout_s: float, what: str) -> Any:
        """Poll ``expression`` until it is truthy; on timeout an AssertionError with the page."""
        deadline = time.monotonic() + timeout_s
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"timed out after {timeout_s:.0f}s waiting for {what} ({expression})\n"
                    f"--- page text ---\n{self.text()[:3000]}\n"
                    f"--- console ---\n" + "\n".join(self.console[-20:])
                )
            time.sleep(0.1)

    def close(self) -> None:
        """Close the tab (its event streams with it)."""
        target = self.call("Target.getTargetInfo")["targetInfo"]["targetId"]
        self.browser.call("Target.closeTarget", {"targetId": target})

    def text(self) -> str:
        return str(self.evaluate("document.body ? document.body.innerText : ''"))

    def screenshot(self, path: Path, full_page: bool = True) -> Path:
        """A PNG of the page (all of it when ``full_page``)."""
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            size = self.call("Page.getLayoutMetrics")["cssContentSize"]
            params["clip"] = {"x": 0, "y": 0, "width": size["width"], "height": size["height"],
                              "scale": 1}  # fmt: skip
            params["captureBeyondViewport"] = True
        data = self.call("Page.captureScreenshot", params)["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path


@contextlib.contextmanager
def chromium(binary: str, profile: Path) -> Iterator[Chromium]:
    """A started browser, stopped afterwards (its log is in the error if it fails to start)."""
    browser = Chromium(binary, profile)
    try:
        browser.start()
        yield browser
    finally:
        browser.stop()


def artifacts_dir() -> Path:
    """Where tests keep what a person looks at afterwards (screenshots): $MLROLLOUT_ARTIFACTS_DIR,
    else .artifacts/ in the checkout (git ignores it)."""
    explicit = os.environ.get("MLROLLOUT_ARTIFACTS_DIR")
    found = Path(explicit) if explicit else Path(__file__).resolve().parents[1] / ".artifacts"
    found.mkdir(parents=True, exist_ok=True)
    return found
