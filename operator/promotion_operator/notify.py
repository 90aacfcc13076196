"""Webhook notifications: a JSON document at each verdict and each wait for a person.

`Notifier.send` never blocks and never raises, so a slow or absent receiver can never hold a
promotion: it queues the document (a bounded queue: when full, the oldest is dropped and the log
says so) and returns. One worker task posts the documents in order, retrying connection errors,
timeouts, 429 and 5xx with exponential back-off (1, 2, 4, 8, 16 s...); another 4xx means the
receiver refuses the document, and it is not sent again. Retries of a document carry the same
`id`, so a receiver can drop duplicates.

The URL comes from a Secret and often carries a token: only its scheme and host are logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from .settings import OperatorSettings
from .spec import GROUP, VERSION
from .status import GateStatus, PromotionPhase, PromotionStatus, rfc3339

log = logging.getLogger(__name__)

DOCUMENT_KIND = "ModelPromotionNotification"
_RETRIED_STATUS = 429  # and every 5xx


def build_document(
    *,
    event: str,
    namespace: str,
    name: str,
    model: str | None,
    version: str | None,
    serving_version: str | None,
    message: str,
    gates: Iterable[GateStatus],
    at: datetime,
    action: str | None = None,
    requested_by: str | None = None,
) -> dict[str, Any]:
    """The JSON document a webhook receives (`id` is new for each document, kept by retries)."""
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": DOCUMENT_KIND,
        "id": uuid.uuid4().hex,
        "event": event,
        "namespace": namespace,
        "name": name,
        "model": model,
        "version": version,
        "servingVersion": serving_version,
        "message": message,
        "gates": [_gate(gate) for gate in gates],
        "action": action,  # abort | undo: a person's request concluded it
        "requestedBy": requested_by,
        "at": rfc3339(at),
    }


def verdict_document(
    event: str, namespace: str, name: str, status: PromotionStatus
) -> dict[str, Any]:
    """The document for `event` (a verdict or AwaitingApproval), read from the status written.

    A verdict is about the newest history entry it produced (an undo's is the version it took
    away, not the candidate); a wait for approval is about the candidate, since it was asked."""
    entry = next((h for h in status.history if h.outcome == event), None)
    version, at = status.candidate_version, status.phase_since
    if event == PromotionPhase.AWAITING_APPROVAL and status.approval is not None:
        at = status.approval.requested_at
    elif entry is not None:
        version, at = entry.version or version, entry.finished_at or at
    return build_document(
        event=event,
        namespace=namespace,
        name=name,
        model=status.candidate.model if status.candidate else None,
        version=version,
        serving_version=status.serving_version,
        message=status.message or (entry.reason if entry else ""),
        gates=status.gates,
        at=at or datetime.now(UTC),
        action=entry.action if entry else None,
        requested_by=entry.requested_by if entry else None,
    )


def _gate(gate: GateStatus) -> dict[str, Any]:
    def number(value: float | None) -> float | None:  # JSON has no NaN or infinity
        return value if value is not None and math.isfinite(value) else None

    return {
        "name": gate.name,
        "value": number(gate.value),
        "threshold": number(gate.threshold),
        "phase": gate.phase.value,
    }


@dataclass(frozen=True)
class _Pending:
    """A document waiting to be posted, already serialised (later changes to it do not leak)."""

    id: str
    event: str
    where: str  # namespace/name
    body: bytes


class Notifier:
    """Posts documents to one webhook URL from a worker task; disabled when the URL is empty.

    `send` must be called on the event loop's thread (the reconcile passes are); `start` on the
    running loop; `stop` before the loop ends."""

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = 5.0,
        max_attempts: int = 6,
        first_backoff_s: float = 1.0,
        max_backoff_s: float = 60.0,
        queue_size: int = 100,
    ) -> None:
        self.enabled = bool(url)
        self._url = url
        self._receiver = _receiver(url) if url else ""
        self._redact = _RedactUrl(url, self._receiver)
        self._timeout_s = timeout_s
        self._max_attempts = max(1, max_attempts)
        self._first_backoff_s = first_backoff_s
        self._max_backoff_s = max_backoff_s
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue(maxsize=max(1, queue_size))
        self._client: httpx.AsyncClient | None = None
        self._worker: asyncio.Task[None] | None = None
        self._busy = False  # a document is being posted (or waits for its next attempt)
        # counters, for tests and logs
        self.delivered = 0
        self.failed = 0
        self.dropped = 0

    @classmethod
    def from_settings(cls, settings: OperatorSettings) -> Notifier:
        return cls(
            settings.webhook_url,
            timeout_s=settings.webhook_timeout_seconds,
            max_attempts=settings.webhook_max_attempts,
        )

    def start(self) -> None:
        """Start the worker on the running loop (once; a disabled notifier starts nothing)."""
        if not self.enabled or self._worker is not None:
            return
        self._client = httpx.AsyncClient(
            timeout=self._timeout_s,
            headers={"Content-Type": "application/json", "User-Agent": "mlrollout-operator"},
        )
        self._worker = asyncio.get_running_loop().create_task(
            self._work(), name="webhook notifications"
        )
        logging.getLogger("httpx").addFilter(self._redact)
        log.info("webhook notifications on", extra={"receiver": self._receiver})

    def send(self, document: Mapping[str, Any]) -> None:
        """Queue `document` for the webhook and return at once; never raises."""
        if not self.enabled:
            return
        try:
            pending = _Pending(
                id=str(document.get("id", "")),
                event=str(document.get("event", "")),
                where=f"{document.get('namespace')}/{document.get('name')}",
                body=json.dumps(document, allow_nan=False).encode(),
            )
            if self._queue.full():
                oldest = self._queue.get_nowait()
                self._queue.task_done()
                self.dropped += 1
                log.warning(
                    "notification queue full: dropped the oldest",
                    extra={**_fields(oldest), "queue_size": self._queue.maxsize},
                )
            self._queue.put_nowait(pending)
        except Exception as exc:  # a promotion never fails for its notification
            self.failed += 1
            log.error(
                "notification not sent: not a JSON document",
                extra={"event": str(document.get("event", "")), "error": str(exc)},
            )

    async def stop(self, drain_s: float = 5.0) -> None:
        """Give queued documents `drain_s` to go out, then cancel what is left."""
        worker, client = self._worker, self._client
        if worker is None or client is None:
            return
        try:
            await asyncio.wait_for(self._queue.join(), timeout=drain_s)
        except TimeoutError:
            log.warning(
                "notifications left undelivered at shutdown",
                extra={
                    "undelivered": self._queue.qsize() + self._busy,
                    "receiver": self._receiver,
                },
            )
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker
        await client.aclose()
        logging.getLogger("httpx").removeFilter(self._redact)
        self._worker = self._client = None

    async def _work(self) -> None:
        while True:
            pending = await self._queue.get()
            self._busy = True
            try:
                await self._deliver(pending)
            except Exception:  # one document's surprise must not end the notifications
                self.failed += 1
                log.exception("notification failed", extra=_fields(pending))
            finally:
                self._busy = False
                self._queue.task_done()

    async def _deliver(self, pending: _Pending) -> None:
        for attempt in range(1, self._max_attempts + 1):
            outcome, detail = await self._post(pending)
            fields = {**_fields(pending), "attempt": attempt, "receiver": self._receiver, **detail}
            if outcome == "delivered":
                self.delivered += 1
                log.info("notification delivered", extra=fields)
                return
            if outcome == "refused":
                self.failed += 1
                log.error("notification refused by the receiver, not retried", extra=fields)
                return
            if attempt == self._max_attempts:
                break
            delay = min(self._first_backoff_s * 2 ** (attempt - 1), self._max_backoff_s)
            log.info("notification attempt failed, retrying", extra={**fields, "retry_in_s": delay})
            await asyncio.sleep(delay)
        self.failed += 1
        log.error("notification given up", extra=fields)

    async def _post(self, pending: _Pending) -> tuple[str, dict[str, Any]]:
        """One POST: delivered, refused (do not retry) or retry, and what to log about it."""
        assert self._client is not None
        try:
            response = await self._client.post(self._url, content=pending.body)
        except httpx.TransportError as exc:  # connection refused, DNS, timeouts, TLS...
            return "retry", {"error": type(exc).__name__}
        code = response.status_code
        if response.is_success:
            return "delivered", {"status_code": code}
        if code == _RETRIED_STATUS or response.is_server_error:
            return "retry", {"status_code": code}
        return "refused", {"status_code": code}


def _receiver(url: str) -> str:
    """The scheme and host of the webhook: what the logs may say of a URL that holds a token."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        parsed = None
    if parsed is None or parsed.scheme not in {"http", "https"} or not parsed.host:
        raise ValueError(
            "MLROLLOUT_OPERATOR_WEBHOOK_URL is not an http(s):// URL: fix the Secret named by "
            "the chart's operator.notifications.webhook.secretName, or leave it empty"
        )
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.scheme}://{parsed.host}{port}"


class _RedactUrl(logging.Filter):
    """httpx logs each request's whole URL (at INFO): in our webhook's place, only its host."""

    def __init__(self, url: str, shown: str) -> None:
        super().__init__()
        self._url = str(httpx.URL(url)) if url else ""
        self._shown = f"{shown}/…"

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                self._shown if isinstance(arg, httpx.URL) and str(arg) == self._url else arg
                for arg in record.args
            )
        return True


def _fields(pending: _Pending) -> dict[str, str]:
    return {"notification_id": pending.id, "event": pending.event, "promotion": pending.where}
