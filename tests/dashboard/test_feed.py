"""The feed: the latest view per promotion, and only real changes published."""

from __future__ import annotations

import asyncio
import threading

from mlrollout.dashboard.feed import Change, PromotionFeed

from . import samples


def drain(feed: PromotionFeed, produce: list[object]) -> list[Change]:
    """Changes a subscriber receives while ``produce`` callables run on another thread."""

    async def scenario() -> list[Change]:
        subscription, _ = feed.subscribe()
        producer = threading.Thread(target=lambda: [f() for f in produce])  # type: ignore[operator]
        producer.start()
        await asyncio.to_thread(producer.join)
        feed.close()
        received = []
        while (change := await asyncio.wait_for(subscription.next(), 5)).kind != "closed":
            received.append(change)
        return received

    return asyncio.run(scenario())


def test_a_write_that_changes_nothing_shown_is_not_published() -> None:
    feed = PromotionFeed()
    promotion = samples.verifying()
    again = samples.verifying()
    again["metadata"]["resourceVersion"] = "2"  # a status write, nothing the page shows

    changes = drain(feed, [lambda: feed.upsert(promotion), lambda: feed.upsert(again)])
    assert [c.kind for c in changes] == ["upsert"]


def test_a_fresh_list_deletes_what_it_lacks_and_updates_what_changed() -> None:
    feed = PromotionFeed()
    feed.upsert(samples.verifying())
    feed.upsert(samples.rejected())

    changes = drain(feed, [lambda: feed.replace([samples.promoted()])])
    assert [(c.kind, c.data.get("key") or c.data["promotion"]["key"]) for c in changes] == [
        ("delete", "growth/churn-model"), ("upsert", "risk/fraud-scorer"),
    ]  # fmt: skip
    assert [p["phase"] for p in feed.snapshot()["promotions"]] == ["Promoted"]


def test_deleting_an_unknown_promotion_publishes_nothing() -> None:
    feed = PromotionFeed()
    assert drain(feed, [lambda: feed.delete("ns", "ghost")]) == []


def test_health_is_published_when_it_changes() -> None:
    feed = PromotionFeed()
    changes = drain(feed, [
        lambda: feed.set_health(True, "watching"), lambda: feed.set_health(True, "watching"),
        lambda: feed.set_health(False, "lost it"),
    ])  # fmt: skip
    assert [c.data for c in changes] == [
        {"connected": True, "message": "watching"}, {"connected": False, "message": "lost it"},
    ]  # fmt: skip


def test_the_snapshot_is_sorted_by_namespace_and_name() -> None:
    feed = PromotionFeed()
    for promotion in (samples.verifying("b", "z"), samples.rejected("a", "y"),
                      samples.promoted("b", "a")):  # fmt: skip
        feed.upsert(promotion)
    assert [p["key"] for p in feed.snapshot()["promotions"]] == ["a/y", "b/a", "b/z"]


def test_a_subscriber_after_close_ends_at_once() -> None:
    feed = PromotionFeed()
    feed.close()

    async def first() -> str:
        subscription, _ = feed.subscribe()
        return (await asyncio.wait_for(subscription.next(), 5)).kind

    assert asyncio.run(first()) == "closed"
