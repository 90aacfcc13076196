"""Drives every ModelPromotion the watch reports: one loop per resource, and no finalizer.

kopf's low-level event handler feeds `Promotions.seen`. Each resource gets an asyncio task that
reconciles it, writes what changed in its status, and sleeps until the reconcile interval has
passed, its spec changed, or (while it waits for a rollout) one of its Deployments changed
(`Promotions.workload_changed`). Nothing but the status is written on the object, so deleting it (or
its namespace) never waits for the operator, running or not; a kopf timer would have put a
finalizer on every resource.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from .control import REQUEST_ANNOTATION, InvalidRequest, read_request
from .credentials import CachedCredentials, CredentialsMissing, CredentialsRefused
from .metrics import OperatorMetrics
from .notify import Notifier, verdict_document
from .promotion_pass import Asked, Deps, ModelPromotion, PassResult, Scratch
from .reconcile import reconcile
from .spec import InvalidSpec, ModelPromotionSpec, parse_spec
from .status import PromotionPhase, PromotionStatus

log = logging.getLogger(__name__)

API_ERROR_RETRY_S = 10.0
# Phases whose next step is a Deployment becoming ready (or failing): woken by its changes.
WAITS_ON_WORKLOAD = frozenset({PromotionPhase.ROLLING_OUT.value, PromotionPhase.ROLLING_BACK.value})


class StatusWriter(Protocol):
    async def write_status(self, namespace: str, name: str, changes: dict[str, Any]) -> None: ...


@dataclass
class ResourceMemory:
    """What the operator remembers of one resource between passes (lost on restart)."""

    body: dict[str, Any]  # the latest the watch reported
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    written: dict[str, Any] | None = None  # the status as the API holds it after our last write
    scratch: Scratch = field(default_factory=Scratch)
    credentials: CachedCredentials = field(default_factory=CachedCredentials)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    handled_generation: int | None = None
    handled_request: str | None = None  # the raw request annotation last handled

    @property
    def name(self) -> str:
        return str(self.body["metadata"]["name"])

    @property
    def namespace(self) -> str:
        return str(self.body["metadata"]["namespace"])

    @property
    def generation(self) -> int:
        return int(self.body["metadata"].get("generation", 1))

    @property
    def request(self) -> str | None:
        annotations = self.body["metadata"].get("annotations") or {}
        return annotations.get(REQUEST_ANNOTATION)


# What a pass needs for one resource: the adapters (`wiring.py`), or fakes in the tests.
DepsFactory = Callable[[ResourceMemory, ModelPromotionSpec], Awaitable[Deps]]


class Promotions:
    """The ModelPromotions this operator drives, one asyncio task each."""

    def __init__(
        self,
        *,
        interval_s: float,
        writer: StatusWriter,
        deps_for: DepsFactory,
        metrics: OperatorMetrics | None = None,
        notifier: Notifier | None = None,
    ) -> None:
        self._interval = interval_s
        self._writer = writer
        self._deps_for = deps_for
        self._metrics = metrics
        self._notifier = notifier
        self._resources: dict[tuple[str, str], ResourceMemory] = {}

    def seen(self, event_type: str | None, body: dict[str, Any]) -> None:
        """A watch event (None: listed at start-up): start, wake or stop the resource's loop."""
        key = (body["metadata"]["namespace"], body["metadata"]["name"])
        if event_type == "DELETED":
            gone = self._resources.pop(key, None)
            if gone is not None and gone.task is not None:
                gone.task.cancel()
            return
        memory = self._resources.get(key)
        if memory is None:
            memory = self._resources[key] = ResourceMemory(body)
        memory.body = body
        if memory.generation != memory.handled_generation or memory.request != (
            memory.handled_request
        ):
            memory.wake.set()  # a new spec or request is handled now, not at the next interval
        if memory.task is None or memory.task.done():
            loop = asyncio.get_running_loop()
            memory.task = loop.create_task(self._loop(memory), name=f"reconcile {key}")

    def workload_changed(self, namespace: str, name: str) -> None:
        """A Deployment of this resource changed (the watch): a pass that waits on it runs now,
        not at the next interval. Other phases ignore it, so the controllers' status updates
        never drive passes that would not look at them."""
        memory = self._resources.get((namespace, name))
        if memory is None:
            return
        status = memory.written if memory.written is not None else memory.body.get("status")
        # A pass under way may be the one that created the Deployment: its phase is not written
        # yet, and a pod that got ready meanwhile sends no further change. Look once more.
        if memory.lock.locked() or (status or {}).get("phase") in WAITS_ON_WORKLOAD:
            memory.wake.set()

    async def stop(self) -> None:
        tasks = [m.task for m in self._resources.values() if m.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _loop(self, memory: ResourceMemory) -> None:
        while True:
            memory.wake.clear()
            delay = await self.reconcile_once(memory)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(memory.wake.wait(), timeout=delay)

    async def reconcile_once(self, memory: ResourceMemory) -> float | None:
        """One pass over one resource; how long to wait before the next (None: until woken)."""
        async with memory.lock:
            try:
                return await self._pass(memory)
            except Exception:  # one resource's bug must never stop its loop, nor the others'
                log.exception("reconcile failed", extra=_where(memory))
                return self._interval

    async def _pass(self, memory: ResourceMemory) -> float | None:
        old = (
            memory.written if memory.written is not None else dict(memory.body.get("status") or {})
        )
        generation = memory.generation
        try:
            spec = parse_spec(dict(memory.body.get("spec") or {}))
        except InvalidSpec as exc:  # past the CRD's validation, and still unusable: say why
            await self._refuse(memory, old, generation, str(exc))
            return None  # nothing to do until the spec changes
        request = memory.request
        promotion = ModelPromotion(
            memory.name, memory.namespace, generation, spec, PromotionStatus.model_validate(old),
            _asked(memory),
        )  # fmt: skip
        try:
            result = await reconcile(promotion, await self._deps_for(memory, spec))
        except CredentialsRefused as exc:  # nothing is sent; the spec must change
            await self._refuse(memory, old, generation, str(exc))
            return None
        except CredentialsMissing as exc:  # creating the Secret mends it: say so and look again
            message = f"{exc}; nothing rolled out, retrying in {API_ERROR_RETRY_S:.0f}s"
            log.warning("MLflow credentials missing", extra={**_where(memory), "error": str(exc)})
            pending = old.get("phase") or PromotionPhase.PENDING.value
            await self._write(memory, old, {**old, "phase": pending, "message": message})
            return API_ERROR_RETRY_S
        except ApiException as exc:  # the API refused or failed: the user sees it in status
            message = f"{api_error(exc)}; retrying in {API_ERROR_RETRY_S:.0f}s"
            log.warning("Kubernetes API error", extra={**_where(memory), "status": exc.status})
            await self._write(memory, old, {**old, "message": message})
            return API_ERROR_RETRY_S
        except (HTTPError, OSError) as exc:  # the API server is unreachable: nothing to write to
            log.warning("Kubernetes API unreachable", extra={**_where(memory), "error": str(exc)})
            return API_ERROR_RETRY_S
        if await self._write(memory, old, result.status.to_json()):
            memory.handled_generation = generation
            memory.handled_request = request
            self._observe(memory, result)
        return self._interval

    async def _refuse(
        self, memory: ResourceMemory, old: dict[str, Any], generation: int, why: str
    ) -> None:
        """Failed with ``why``: nothing more is tried for this generation of the spec (the one
        the pass read: a newer one that arrived meanwhile wakes the loop again)."""
        refused = {"phase": PromotionPhase.FAILED.value, "message": why}
        await self._write(memory, old, {**old, **refused, "observedGeneration": generation})
        memory.handled_generation = generation

    async def _write(
        self, memory: ResourceMemory, old: dict[str, Any], new: dict[str, Any]
    ) -> bool:
        """Patch what changed; on failure the next pass starts again from the old status."""
        changes = {k: new.get(k) for k in set(old) | set(new) if old.get(k) != new.get(k)}
        if not changes:
            return True
        try:
            await self._writer.write_status(memory.namespace, memory.name, changes)
        except (ApiException, HTTPError, OSError) as exc:
            log.error("status write failed, retrying", extra={**_where(memory), "error": str(exc)})
            return False
        memory.written = new
        return True

    def _observe(self, memory: ResourceMemory, result: PassResult) -> None:
        if self._metrics is not None:
            self._metrics.record(memory.namespace, memory.name, result)
        if self._notifier is not None:  # after the write: what is sent is what status says
            for event in _notified(result):
                doc = verdict_document(event, memory.namespace, memory.name, result.status)
                self._notifier.send(doc)
        for change in result.changes:
            log.info(
                "phase changed",
                extra={**_where(memory), "from": change.left, "to": change.entered,
                       "detail": result.status.message},
            )  # fmt: skip


def api_error(exc: ApiException) -> str:
    """The API server's own explanation (e.g. which field is invalid), not just its status."""
    detail = ""
    with contextlib.suppress(AttributeError, TypeError, ValueError):  # not a JSON object
        detail = str(json.loads(exc.body or "").get("message", ""))
    return f"Kubernetes API: {exc.status} {exc.reason}{': ' + detail if detail else ''}"[:500]


def _asked(memory: ResourceMemory) -> Asked | None:
    """The control request in the annotations; a malformed one is logged and left alone."""
    try:
        found = read_request(memory.body["metadata"])
    except InvalidRequest as exc:
        log.warning("control request ignored", extra={**_where(memory), "error": str(exc)})
        return None
    return Asked(*found) if found is not None else None


def _notified(result: PassResult) -> list[str]:
    """What a webhook hears of: each verdict, and each wait for a person."""
    events = [outcome.value for outcome in result.outcomes]
    waits = [c for c in result.changes if c.entered is PromotionPhase.AWAITING_APPROVAL]
    return events + [PromotionPhase.AWAITING_APPROVAL.value] * bool(waits)


def _where(memory: ResourceMemory) -> dict[str, str]:
    return {"namespace": memory.namespace, "promotion": memory.name}
