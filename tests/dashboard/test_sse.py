"""Server-sent events: the framing, and one page's stream from the feed (snapshot, changes in
order, heartbeats, the end)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from mlrollout.dashboard.feed import PromotionFeed
from mlrollout.dashboard.sse import comment, event_stream, frame

from . import samples


def parse(text: str) -> tuple[str, Any]:
    """One frame back into (event, data), as a browser's EventSource reads it."""
    assert text.endswith("\n\n"), repr(text)
    fields: dict[str, list[str]] = {}
    for line in text[:-2].split("\n"):
        name, _, value = line.partition(": ")
        fields.setdefault(name, []).append(value)
    return fields["event"][0], json.loads("\n".join(fields["data"]))


def test_a_frame_is_event_then_data_then_a_blank_line() -> None:
    assert frame("delete", {"key": "ns/a"}) == 'event: delete\ndata: {"key":"ns/a"}\n\n'
    assert frame("snapshot", [], retry_ms=2000) == "event: snapshot\nretry: 2000\ndata: []\n\n"


def test_text_with_newlines_stays_on_one_data_line() -> None:
    data = {"message": "line one\nline two\r\n: not a comment", "phase": "Rejected"}
    text = frame("upsert", data)
    assert text.count("\n") == 3, text  # event, data, blank: nothing the client would split
    assert parse(text) == ("upsert", data)


def test_non_ascii_text_passes_through() -> None:
    assert parse(frame("upsert", {"message": "alias production → 7"}))[1]["message"] == (
        "alias production → 7"
    )


def test_a_comment_is_ignored_by_browsers() -> None:
    assert comment("heartbeat") == ": heartbeat\n\n"


async def take(stream: AsyncIterator[str], count: int) -> list[str]:
    return [await asyncio.wait_for(anext(stream), 5) for _ in range(count)]


def test_the_stream_opens_with_a_snapshot_then_sends_each_change_in_order() -> None:
    async def scenario() -> list[tuple[str, Any]]:
        feed = PromotionFeed()
        feed.upsert(samples.verifying())
        stream = event_stream(feed, heartbeat_s=60)
        first = await take(stream, 1)
        feed.upsert(samples.promoted())
        feed.upsert(samples.rejected())
        feed.delete("risk", "fraud-scorer")
        feed.set_health(False, "lost the Kubernetes API")
        rest = await take(stream, 4)
        feed.close()
        assert [chunk async for chunk in stream] == []  # closing the feed ends the stream
        return [parse(chunk) for chunk in first + rest]

    events = asyncio.run(scenario())
    assert [event for event, _ in events] == ["snapshot", "upsert", "upsert", "delete", "health"]
    snapshot = events[0][1]
    assert [(p["key"], p["phase"]) for p in snapshot["promotions"]] == [
        ("risk/fraud-scorer", "Verifying")
    ]
    assert snapshot["health"]["connected"] is False  # nothing has said it is connected yet
    assert events[1][1]["promotion"]["phase"] == "Promoted"
    assert events[2][1]["promotion"]["key"] == "growth/churn-model"
    assert events[3][1] == {"key": "risk/fraud-scorer"}
    assert events[4][1] == {"connected": False, "message": "lost the Kubernetes API"}


def test_an_idle_stream_sends_heartbeats() -> None:
    async def scenario() -> list[str]:
        feed = PromotionFeed()
        stream = event_stream(feed, heartbeat_s=0.05)
        return await take(stream, 3)

    chunks = asyncio.run(scenario())
    assert parse(chunks[0])[0] == "snapshot"
    assert chunks[1:] == [": heartbeat\n\n", ": heartbeat\n\n"]


def test_a_page_that_falls_behind_gets_a_fresh_snapshot_and_blocks_nobody() -> None:
    async def scenario() -> tuple[list[tuple[str, Any]], list[tuple[str, Any]]]:
        feed = PromotionFeed(queue_size=3)
        slow, fast = event_stream(feed, heartbeat_s=60), event_stream(feed, heartbeat_s=60)
        await take(slow, 1)
        await take(fast, 1)
        seen_fast = []
        for generation in range(1, 11):  # more changes than the slow page's queue holds
            promotion = samples.verifying()
            promotion["metadata"]["generation"] = generation
            feed.upsert(promotion)
            seen_fast += await take(fast, 1)  # the fast page reads each one as it comes
        seen_slow = await take(slow, 1)
        await slow.aclose()
        await fast.aclose()
        assert feed.subscribers == 0  # a page that goes away unsubscribes
        return [parse(c) for c in seen_fast], [parse(c) for c in seen_slow]

    fast, slow = asyncio.run(scenario())
    assert [data["promotion"]["generation"] for _, data in fast] == list(range(1, 11))
    event, data = slow[0]
    assert event == "snapshot"  # its backlog replaced by the state it needs
    assert [p["generation"] for p in data["promotions"]] == [10]
