"""Server-sent events: the wire format, and one page's stream from the feed.

The stream opens with a snapshot of every promotion, then sends one event per change (`upsert`,
`delete`, `health`), a fresh snapshot when the page fell behind, and a comment line every
`heartbeat_s` so proxies keep the connection open and a dead one is noticed.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator
from typing import Any

from .feed import PromotionFeed

HEARTBEAT_S = 15.0
RETRY_MS = 2000  # how long a browser waits before it reconnects a dropped stream


def frame(event: str, data: Any, *, retry_ms: int | None = None) -> str:
    """One event: `event:`, optional `retry:`, the JSON on `data:` lines, a blank line."""
    lines = [f"event: {event}"]
    if retry_ms is not None:
        lines.append(f"retry: {retry_ms}")
    payload = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    lines.extend(f"data: {line}" for line in payload.split("\n"))  # JSON escapes newlines
    return "\n".join(lines) + "\n\n"


def comment(text: str) -> str:
    """A line the browser ignores (keeps the connection alive)."""
    return f": {text}\n\n"


async def event_stream(
    feed: PromotionFeed, heartbeat_s: float = HEARTBEAT_S
) -> AsyncGenerator[str, None]:
    """One page's events until the feed closes (or the page goes: the server cancels this)."""
    subscription, snapshot = feed.subscribe()
    try:
        yield frame("snapshot", snapshot, retry_ms=RETRY_MS)
        while True:
            try:
                change = await asyncio.wait_for(subscription.next(), heartbeat_s)
            except TimeoutError:
                yield comment("heartbeat")
                continue
            if change.kind == "closed":
                return
            if change.kind == "resync":
                yield frame("snapshot", feed.snapshot())
            else:
                yield frame(change.kind, change.data)
    finally:
        feed.unsubscribe(subscription)
