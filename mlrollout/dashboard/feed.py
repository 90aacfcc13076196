"""The latest view of each promotion, and its changes fanned out to every open page.

A producer (the Kubernetes watch thread, or a test) writes objects in; each browser's stream
reads changes from its own bounded asyncio queue. A page that cannot keep up never blocks the
producer or the other pages: when its queue is full, its backlog is dropped for one `resync`
(a fresh snapshot), since every change carries a whole view and the latest state is all a page
needs.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from .view import key_of, promotion_view

ChangeKind = Literal["upsert", "delete", "health", "resync", "closed"]
QUEUE_SIZE = 256


@dataclass(frozen=True)
class Change:
    kind: ChangeKind
    data: dict[str, Any] = field(default_factory=dict)


RESYNC = Change("resync")
CLOSED = Change("closed")


@dataclass(frozen=True)
class Health:
    """Whether the source reaches the API; the page shows the message when it does not."""

    connected: bool
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"connected": self.connected, "message": self.message}


class Subscription:
    """One page's changes. `offer` runs on the subscriber's event loop only."""

    def __init__(self, loop: asyncio.AbstractEventLoop, size: int) -> None:
        self.loop = loop
        self._queue: asyncio.Queue[Change] = asyncio.Queue(size)
        self.resyncs = 0  # how often this page fell behind (for the tests)

    def offer(self, change: Change) -> None:
        if self._queue.full():  # fallen behind: its backlog gives way to one fresh snapshot
            while not self._queue.empty():
                self._queue.get_nowait()
            if change is not CLOSED:
                self.resyncs += 1
                change = RESYNC
        self._queue.put_nowait(change)

    async def next(self) -> Change:
        return await self._queue.get()


class PromotionFeed:
    """Thread-safe: producers call `upsert`, `delete`, `replace`, `set_health` from any thread;
    `subscribe` is called on the event loop that will read the subscription."""

    def __init__(self, mlflow_url: str | None = None, queue_size: int = QUEUE_SIZE) -> None:
        self._mlflow_url = mlflow_url
        self._queue_size = queue_size
        self._lock = threading.Lock()
        self._views: dict[str, dict[str, Any]] = {}
        self._health = Health(False, "connecting to the Kubernetes API…")
        self._subscribers: set[Subscription] = set()
        self._closed = False

    # -- producers ----------------------------------------------------------------------------
    def upsert(self, obj: dict[str, Any]) -> None:
        view = promotion_view(obj, self._mlflow_url)
        with self._lock:
            if self._views.get(view["key"]) == view:
                return  # a status write that changed nothing the page shows
            self._views[view["key"]] = view
            self._publish(Change("upsert", {"promotion": view}))

    def delete(self, namespace: str, name: str) -> None:
        key = key_of(namespace, name)
        with self._lock:
            if self._views.pop(key, None) is not None:
                self._publish(Change("delete", {"key": key}))

    def replace(self, objs: Iterable[dict[str, Any]]) -> None:
        """A fresh list: what it lacks was deleted while nobody watched."""
        listed = [promotion_view(obj, self._mlflow_url) for obj in objs]
        keys = {view["key"] for view in listed}
        with self._lock:
            for key in [k for k in self._views if k not in keys]:
                del self._views[key]
                self._publish(Change("delete", {"key": key}))
            for view in listed:
                if self._views.get(view["key"]) != view:
                    self._views[view["key"]] = view
                    self._publish(Change("upsert", {"promotion": view}))

    def set_health(self, connected: bool, message: str = "") -> None:
        with self._lock:
            if self._health != (health := Health(connected, message)):
                self._health = health
                self._publish(Change("health", health.to_json()))

    def close(self) -> None:
        """End every stream (the server is shutting down)."""
        with self._lock:
            self._closed = True
            self._publish(CLOSED)
            self._subscribers.clear()

    # -- readers ------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return self._snapshot()

    def subscribe(self) -> tuple[Subscription, dict[str, Any]]:
        """A new subscription and the snapshot it starts from (no change lost or missed
        between the two). Call it on the event loop that will read the subscription."""
        subscription = Subscription(asyncio.get_running_loop(), self._queue_size)
        with self._lock:
            if self._closed:
                subscription.offer(CLOSED)
            else:
                self._subscribers.add(subscription)
            return subscription, self._snapshot()

    def unsubscribe(self, subscription: Subscription) -> None:
        with self._lock:
            self._subscribers.discard(subscription)

    @property
    def subscribers(self) -> int:
        with self._lock:
            return len(self._subscribers)

    def _snapshot(self) -> dict[str, Any]:
        promotions = [self._views[k] for k in sorted(self._views)]
        return {"promotions": promotions, "health": self._health.to_json()}

    def _publish(self, change: Change) -> None:
        """Under the lock, so every page sees changes in the order they were made."""
        for subscription in list(self._subscribers):
            try:
                subscription.loop.call_soon_threadsafe(subscription.offer, change)
            except RuntimeError:  # its event loop is closed: the server stopped
                self._subscribers.discard(subscription)
