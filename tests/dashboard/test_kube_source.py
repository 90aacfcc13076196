"""The list-and-watch source with the real kubernetes client, against a fake API server over
HTTP (tests/dashboard/fake_kube_api.py): what it shows, how it resumes, what it says when
refused. The real API server is tests/e2e/test_dashboard.py's."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from mlrollout.dashboard.feed import PromotionFeed
from mlrollout.dashboard.kube_source import DashboardError, KubernetesSource
from mlrollout.tracking_server import free_port

from . import samples
from .fake_kube_api import FakeKubeApi


@pytest.fixture
def api() -> Iterator[tuple[FakeKubeApi, str]]:
    fake = FakeKubeApi()
    with fake.serving() as url:
        yield fake, url


def source(fake: FakeKubeApi, url: str, namespace: str | None = None,
           watch_timeout_s: int = 300) -> KubernetesSource:  # fmt: skip
    return KubernetesSource(fake.api_client(url), namespace, watch_timeout_s=watch_timeout_s,
                            backoff_s=(0.1,))  # fmt: skip


def eventually(what: str, probe: Callable[[], Any], timeout_s: float = 10) -> Any:
    deadline = time.monotonic() + timeout_s
    while not (value := probe()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)
    return value


def phases(feed: PromotionFeed) -> dict[str, str]:
    return {p["key"]: p["phase"] for p in feed.snapshot()["promotions"]}


@pytest.fixture
def watched(api: tuple[FakeKubeApi, str]) -> Iterator[tuple[FakeKubeApi, PromotionFeed]]:
    """A source over every namespace, started on an API holding one verifying promotion."""
    fake, url = api
    fake.put(samples.verifying())
    feed = PromotionFeed()
    watcher = source(fake, url, watch_timeout_s=1)
    watcher.check_access()
    watcher.start(feed)
    try:
        eventually("the first list", lambda: phases(feed))
        yield fake, feed
    finally:
        watcher.stop()


def test_it_lists_then_follows_changes_and_deletions(
    watched: tuple[FakeKubeApi, PromotionFeed],
) -> None:
    fake, feed = watched
    assert phases(feed) == {"risk/fraud-scorer": "Verifying"}
    assert feed.snapshot()["health"]["connected"] is True

    fake.put(samples.promoted())
    fake.put(samples.rejected())
    eventually("the watch events", lambda: phases(feed) == {
        "risk/fraud-scorer": "Promoted", "growth/churn-model": "Rejected",
    })  # fmt: skip
    fake.delete("risk", "fraud-scorer")
    eventually("the deletion", lambda: list(phases(feed)) == ["growth/churn-model"])
    assert len(fake.lists) == 1  # one list; everything else came from watching


def test_an_expired_watch_resumes_from_the_last_version_seen(
    watched: tuple[FakeKubeApi, PromotionFeed],
) -> None:
    fake, feed = watched
    fake.put(samples.promoted())
    eventually("the update", lambda: phases(feed)["risk/fraud-scorer"] == "Promoted")
    eventually("three watches (each ends after 1 s)", lambda: len(fake.watches) >= 3)
    fake.put(samples.rejected())
    eventually("a change after the resumptions", lambda: "growth/churn-model" in phases(feed))
    assert len(fake.lists) == 1  # resumed, not listed again
    versions = [since for _, since in fake.watches]
    assert versions == sorted(versions)
    assert versions[-1] > versions[0]  # from the version of the last event, not the list's


def test_a_version_gone_means_a_fresh_list_which_drops_what_was_deleted_unseen(
    watched: tuple[FakeKubeApi, PromotionFeed],
) -> None:
    fake, feed = watched
    fake.put(samples.rejected())
    eventually("the second promotion", lambda: len(phases(feed)) == 2)

    fake.delete("risk", "fraud-scorer", unseen=True)  # while the watch was not looking
    fake.compact()  # the watch ends, and its version is too old to resume from: 410 Gone
    eventually("a fresh list", lambda: len(fake.lists) == 2)
    eventually("the unseen deletion", lambda: list(phases(feed)) == ["growth/churn-model"])


def test_an_api_failure_shows_on_the_page_and_heals(
    watched: tuple[FakeKubeApi, PromotionFeed],
) -> None:
    fake, feed = watched
    fake.failing = True
    fake.end_watches()
    health = eventually("the failure to show", lambda: (
        h if not (h := feed.snapshot()["health"])["connected"] else None
    ))  # fmt: skip
    assert "lost the Kubernetes API" in health["message"]
    assert "500" in health["message"]
    assert phases(feed) == {"risk/fraud-scorer": "Verifying"}  # the last known state stays

    fake.failing = False
    eventually("the recovery", lambda: feed.snapshot()["health"]["connected"])


def test_one_namespace_shows_only_its_promotions(api: tuple[FakeKubeApi, str]) -> None:
    fake, url = api
    fake.refuse_cluster_list = True  # a user with a Role in one namespace
    fake.put(samples.verifying("risk", "a"))
    fake.put(samples.rejected("growth", "b"))
    feed = PromotionFeed()
    watcher = source(fake, url, "growth")
    watcher.check_access()
    watcher.start(feed)
    try:
        eventually("the list", lambda: phases(feed))
        fake.put(samples.promoted("risk", "c"))
        fake.put(samples.promoted("growth", "d"))
        eventually("the watch event", lambda: "growth/d" in phases(feed))
        assert phases(feed) == {"growth/b": "Rejected", "growth/d": "Promoted"}
        assert fake.lists == ["/apis/mlrollout.dev/v1alpha1/namespaces/growth/modelpromotions"]
    finally:
        watcher.stop()


def test_a_user_who_may_not_list_everywhere_is_told_to_pass_a_namespace(
    api: tuple[FakeKubeApi, str],
) -> None:
    fake, url = api
    fake.refuse_cluster_list = True
    with pytest.raises(DashboardError, match=r"all namespaces \(403 Forbidden\): pass -n NAMESP"):
        source(fake, url).check_access()


def test_a_cluster_without_the_crd_is_told_to_install_it(api: tuple[FakeKubeApi, str]) -> None:
    _, url = api
    watcher = KubernetesSource(FakeKubeApi().api_client(f"{url}/elsewhere"), None)
    with pytest.raises(DashboardError, match=r"\(404\): install the ModelPromotion CRD"):
        watcher.check_access()


def test_an_unreachable_api_is_said_with_its_address() -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    watcher = KubernetesSource(FakeKubeApi().api_client(url), None)
    with pytest.raises(DashboardError, match=rf"cannot reach the Kubernetes API at {url}"):
        watcher.check_access()


def test_stop_ends_a_watch_that_waits_for_events(api: tuple[FakeKubeApi, str]) -> None:
    fake, url = api
    feed = PromotionFeed()
    watcher = source(fake, url, watch_timeout_s=300)
    watcher.start(feed)
    eventually("the watch to start", lambda: fake.watches)
    started = time.monotonic()
    watcher.stop(timeout_s=5)
    assert time.monotonic() - started < 2  # not the watch's 300 s
