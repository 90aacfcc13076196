"""The dashboard's HTTP endpoints, served by uvicorn on a free port, read with httpx."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from mlrollout.dashboard.feed import PromotionFeed
from mlrollout.dashboard.server import SHUTDOWN_GRACE_S

from . import samples
from .conftest import Served, serve


def test_the_page_loads_only_its_own_script_and_stylesheet(served: Served) -> None:
    page = httpx.get(served.url, timeout=5)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "default-src 'none'" in policy
    assert 'src="static/dashboard.js"' in page.text
    assert "http" not in page.text.replace("http-equiv", "")  # no CDN: nothing from elsewhere
    for asset, kind in (("dashboard.js", "javascript"), ("dashboard.css", "text/css")):
        served_asset = httpx.get(f"{served.url}static/{asset}", timeout=5)
        assert served_asset.status_code == 200, asset
        assert kind in served_asset.headers["content-type"]


def test_the_snapshot_and_the_health_check(served: Served) -> None:
    served.feed.upsert(samples.rejected())
    snapshot = httpx.get(f"{served.url}api/promotions", timeout=5).json()
    assert [p["key"] for p in snapshot["promotions"]] == ["growth/churn-model"]
    assert snapshot["promotions"][0]["links"]["run"].startswith("http://mlflow.example.test:5000/")
    assert snapshot["health"] == {"connected": True, "message": "watching (fake)"}
    health = httpx.get(f"{served.url}healthz", timeout=5)
    assert health.status_code == 200
    assert health.json()["status"] == "ok"


@pytest.mark.parametrize("path", ["api/promotions", "api/stream", ""])
def test_nothing_can_be_written(served: Served, path: str) -> None:
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        answer = httpx.request(method, f"{served.url}{path}", timeout=5)
        assert answer.status_code == 405, (method, path)


def test_a_loopback_dashboard_refuses_other_host_names(served: Served) -> None:
    """A web page cannot read it through DNS rebinding (its Host would be the page's name)."""
    answer = httpx.get(
        f"{served.url}api/promotions", headers={"Host": "evil.example:80"}, timeout=5
    )
    assert answer.status_code == 400
    assert "promotions" not in answer.text


def read_events(lines: Iterator[str], count: int) -> list[tuple[str, Any]]:
    """The next ``count`` events (comments skipped) from a stream's lines."""
    events: list[tuple[str, Any]] = []
    name, data = "", ""
    for line in lines:
        if line.startswith("event: "):
            name = line.removeprefix("event: ")
        elif line.startswith("data: "):
            data = line.removeprefix("data: ")
        elif line == "" and name:
            events.append((name, json.loads(data)))
            name = ""
            if len(events) == count:
                return events
    return events


def test_the_stream_sends_a_snapshot_then_changes(served: Served) -> None:
    served.feed.upsert(samples.verifying())
    with httpx.stream("GET", f"{served.url}api/stream", timeout=10) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        lines = response.iter_lines()
        snapshot = read_events(lines, 1)
        served.feed.upsert(samples.promoted())
        served.feed.delete("risk", "fraud-scorer")
        changes = read_events(lines, 2)
    assert snapshot[0][0] == "snapshot"
    assert [p["phase"] for p in snapshot[0][1]["promotions"]] == ["Verifying"]
    assert [(name, data.get("key") or data["promotion"]["phase"]) for name, data in changes] == [
        ("upsert", "Promoted"), ("delete", "risk/fraud-scorer"),
    ]  # fmt: skip


def test_an_idle_stream_gets_heartbeats_and_ends_when_the_server_stops() -> None:
    feed = PromotionFeed()
    running = serve(feed, heartbeat_s=0.1).in_thread()
    url = running.__enter__()
    try:
        with httpx.stream("GET", f"{url}api/stream", timeout=10) as response:
            lines = response.iter_lines()
            seen = [next(lines) for _ in range(6)]
            stopping = time.monotonic()
            running.__exit__(None, None, None)  # the server stops while the stream is open
            stopped = time.monotonic() - stopping
            rest = list(lines)  # the response ended cleanly: no error
    finally:
        running.__exit__(None, None, None)
    assert seen[0] == "event: snapshot"
    assert ": heartbeat" in seen[3:]
    assert all(line in (": heartbeat", "") for line in rest), rest
    assert stopped < SHUTDOWN_GRACE_S, stopped  # ended, not cancelled after the grace period
    assert feed.subscribers == 0
