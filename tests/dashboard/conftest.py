"""The dashboard served on this machine from a feed the test writes into (no cluster), and a
headless Chromium to look at it (skipped without one, unless MLROLLOUT_E2E_REQUIRED=1)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from mlrollout.dashboard.app import create_app
from mlrollout.dashboard.feed import PromotionFeed
from mlrollout.dashboard.server import DashboardServer

from ..browser import Chromium, Page, chromium, require_chromium

MLFLOW_URL = "http://mlflow.example.test:5000"


@dataclass
class Served:
    feed: PromotionFeed
    url: str


def serve(feed: PromotionFeed, port: int = 0, heartbeat_s: float = 15.0) -> DashboardServer:
    app = create_app(feed, heartbeat_s=heartbeat_s, allowed_hosts=("127.0.0.1", "localhost"))
    return DashboardServer(app, "127.0.0.1", port, on_exit=feed.close)


@pytest.fixture
def served() -> Iterator[Served]:
    """The dashboard of a feed the test fills, on a free port; the source is healthy."""
    feed = PromotionFeed(MLFLOW_URL)
    feed.set_health(True, "watching (fake)")
    with serve(feed).in_thread() as url:
        yield Served(feed, url)


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chromium]:
    binary = require_chromium()
    with chromium(binary, tmp_path_factory.mktemp("chromium") / "profile") as started:
        yield started


@pytest.fixture
def page(browser: Chromium, served: Served) -> Iterator[Page]:
    """The dashboard open in a tab, its event stream connected; the tab closed afterwards."""
    opened = browser.open(served.url)
    opened.wait_for("document.body.dataset.stream === 'open'", 10, "the event stream to open")
    yield opened
    opened.close()
