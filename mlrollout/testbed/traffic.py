"""A client that keeps asking a serving target for predictions and counts every failure."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from typing import Any

Rows = list[list[float]]


# The model server names the model version that answered each inference request.
VERSION_HEADER = "x-model-version"


class Poller:
    """Posts ``rows`` (or what ``rows()`` returns, anew each time: a stream of traffic) to
    ``{url}/predict`` every ``period_s`` on a thread, while in `with`; each request on a new
    connection (as many clients do; the Service spreads them over its pods), its answering
    version counted in ``versions``."""

    def __init__(self, url: str, rows: Rows | Callable[[], Rows], period_s: float = 0.1) -> None:
        self.url, self.rows, self.period_s = url, rows, period_s
        self.ok = 0
        self.failures: list[str] = []  # why each failed request failed
        self.versions: Counter[str] = Counter()  # model version → requests it answered
        self.answers: list[tuple[float, str]] = []  # (monotonic time, version) of each answer
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Poller:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            rows = self.rows() if callable(self.rows) else self.rows
            body = json.dumps({"instances": rows}).encode()
            request = urllib.request.Request(
                f"{self.url}/predict", data=body, headers={"content-type": "application/json"}
            )
            try:
                with urllib.request.urlopen(request, timeout=5) as answer:
                    answer.read()
                    version = answer.headers.get(VERSION_HEADER, "?")
                self.versions[version] += 1
                self.answers.append((time.monotonic(), version))
                self.ok += 1
            except urllib.error.HTTPError as exc:
                self.failures.append(f"{exc.code}: {exc.read()[:200]!r}")
            except OSError as exc:  # refused, reset, timed out
                self.failures.append(f"{type(exc).__name__}: {exc}")
            self._stop.wait(self.period_s)


def predict(url: str, rows: list[list[float]]) -> Any:
    """One prediction request; the decoded answer."""
    request = urllib.request.Request(
        f"{url}/predict", data=json.dumps({"instances": rows}).encode(),
        headers={"content-type": "application/json"},
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())
