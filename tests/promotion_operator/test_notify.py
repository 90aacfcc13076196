"""Webhook notifications against a real HTTP receiver on 127.0.0.1: what arrives, what is
retried and what is not, and that nothing ever makes `send` wait."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from promotion_operator.notify import Notifier, build_document, verdict_document
from promotion_operator.settings import OperatorSettings
from promotion_operator.status import (
    ApprovalStatus,
    Candidate,
    GateStatus,
    HistoryEntry,
    MeasurementPhase,
    PromotionPhase,
    PromotionStatus,
    VersionRef,
)

SLOW = "slow"  # a scripted answer: hold the request past the client's timeout, then 200


@dataclass
class Receiver:
    """A webhook receiver answering with `script` in turn (then 200), recording each request."""

    url: str
    script: list[int | str]
    arrived: list[tuple[float, dict[str, str], dict[str, Any]]] = field(default_factory=list)

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [body for _, _, body in self.arrived]


@pytest.fixture
def receiver() -> Iterator[Callable[..., Receiver]]:
    servers: list[ThreadingHTTPServer] = []

    def start(*script: int | str, path: str = "/hooks/mlrollout") -> Receiver:
        state = Receiver(url="", script=list(script))

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                state.arrived.append((time.monotonic(), dict(self.headers), body))
                answer = state.script.pop(0) if state.script else 200
                if answer == SLOW:
                    time.sleep(0.5)
                    answer = 200
                assert isinstance(answer, int)
                self.send_response(answer)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: object) -> None:
                pass

        httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        httpd.daemon_threads = True
        servers.append(httpd)
        threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
        state.url = f"http://127.0.0.1:{httpd.server_address[1]}{path}"
        return state

    yield start
    for httpd in servers:
        httpd.shutdown()
        httpd.server_close()


def _unreachable_url() -> str:
    """A port nothing listens on (bound then released): connections are refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"


def _fast(url: str, max_attempts: int = 6, queue_size: int = 100) -> Notifier:
    """Back-off 0.05, 0.1, 0.2 s... instead of 1, 2, 4 s."""
    return Notifier(
        url, max_attempts=max_attempts, queue_size=queue_size, first_backoff_s=0.05, timeout_s=2
    )


def _document(event: str = "Promoted", **changes: Any) -> dict[str, Any]:
    return {**build_document(
        event=event, namespace="ml", name="churn", model="mlrollout-demo", version="2",
        serving_version="2", message="version 2 promoted", gates=[],
        at=datetime(2025, 3, 2, 9, 59, 12, tzinfo=UTC),
    ), **changes}  # fmt: skip


def _deliver(notifier: Notifier, *documents: dict[str, Any], drain_s: float = 10.0) -> None:
    async def scenario() -> None:
        notifier.start()
        for document in documents:
            notifier.send(document)
        await notifier.stop(drain_s=drain_s)

    asyncio.run(scenario())


def _rejected_status() -> PromotionStatus:
    at = datetime(2025, 3, 2, 9, 58, 14, 250000, tzinfo=UTC)
    return PromotionStatus(
        phase=PromotionPhase.REJECTED,
        phase_since=at,
        message="version 3 rejected: accuracy >= 0.9 (0.871)",
        candidate=Candidate(version="3", model="mlrollout-demo", run_id="8d1a44"),
        serving=VersionRef(version="2"),
        gates=[
            GateStatus(name="accuracy >= 0.9", metric="accuracy", op=">=", threshold=0.9,
                       value=0.871, phase=MeasurementPhase.FAILED),
            GateStatus(name="latency_p95_ms <= 50", metric="latency_p95_ms", op="<=",
                       threshold=50, value=float("nan"), phase=MeasurementPhase.ERROR),
        ],
        history=[HistoryEntry(version="3", outcome=PromotionPhase.REJECTED,
                              reason="accuracy >= 0.9 (0.871)", finished_at=at)],
    )  # fmt: skip


def test_a_verdict_arrives_with_every_field(receiver: Callable[..., Receiver]) -> None:
    hook = receiver()
    document = verdict_document("Rejected", "ml", "churn", _rejected_status())
    notifier = _fast(hook.url)
    _deliver(notifier, document)
    assert notifier.delivered == 1
    [(_, headers, body)] = hook.arrived
    assert headers["Content-Type"] == "application/json"
    assert body == {
        "apiVersion": "mlrollout.dev/v1alpha1",
        "kind": "ModelPromotionNotification",
        "id": document["id"],
        "event": "Rejected",
        "namespace": "ml",
        "name": "churn",
        "model": "mlrollout-demo",
        "version": "3",
        "servingVersion": "2",
        "message": "version 3 rejected: accuracy >= 0.9 (0.871)",
        "gates": [
            {"name": "accuracy >= 0.9", "value": 0.871, "threshold": 0.9, "phase": "Failed"},
            {"name": "latency_p95_ms <= 50", "value": None, "threshold": 50, "phase": "Error"},
        ],
        "action": None,
        "requestedBy": None,
        "at": "2025-03-02T09:58:14Z",
    }
    assert re.fullmatch(r"[0-9a-f]{32}", body["id"])


def test_each_document_has_its_own_id() -> None:
    status = _rejected_status()
    ids = {verdict_document("Rejected", "ml", "churn", status)["id"] for _ in range(100)}
    assert len(ids) == 100


def test_an_abort_says_who_asked_and_a_wait_for_approval_when_it_began() -> None:
    at = datetime(2025, 3, 2, 9, 59, 20, tzinfo=UTC)
    aborted = PromotionStatus(
        phase=PromotionPhase.ROLLED_BACK,
        candidate=Candidate(version="2", model="m"),
        serving=VersionRef(version="1"),
        history=[HistoryEntry(version="2", outcome=PromotionPhase.ROLLED_BACK,
                              reason="latency spike", action="abort",
                              requested_by="alice@example.com", finished_at=at)],
    )  # fmt: skip
    document = verdict_document("RolledBack", "ml", "churn", aborted)
    assert (document["action"], document["requestedBy"]) == ("abort", "alice@example.com")
    assert (document["message"], document["at"]) == ("latency spike", "2025-03-02T09:59:20Z")
    asked = datetime(2025, 3, 2, 10, 0, 0, tzinfo=UTC)
    waiting = PromotionStatus(
        phase=PromotionPhase.AWAITING_APPROVAL,
        phase_since=at,
        message="version 2 verified; waiting for approval",
        candidate=Candidate(version="2", model="m"),
        approval=ApprovalStatus(stage="beforePromotion", requested_at=asked),
        history=[HistoryEntry(version="1", outcome=PromotionPhase.PROMOTED, finished_at=at)],
    )
    document = verdict_document("AwaitingApproval", "ml", "churn", waiting)
    assert (document["event"], document["version"]) == ("AwaitingApproval", "2")
    assert document["at"] == "2025-03-02T10:00:00Z"
    assert document["action"] is None


def test_503_and_429_are_retried_with_growing_back_off(
    receiver: Callable[..., Receiver],
) -> None:
    hook = receiver(503, 429, 200)
    notifier = _fast(hook.url, max_attempts=5)
    document = _document()
    _deliver(notifier, document)
    assert hook.bodies == [document] * 3  # the same document, id included, each time
    assert (notifier.delivered, notifier.failed) == (1, 0)
    first, second, third = (at for at, _, _ in hook.arrived)
    assert second - first >= 0.05 * 0.9
    assert third - second >= 0.1 * 0.9


def test_a_timeout_is_retried(receiver: Callable[..., Receiver]) -> None:
    hook = receiver(SLOW, 200)
    notifier = Notifier(hook.url, max_attempts=3, first_backoff_s=0.05, timeout_s=0.2)
    _deliver(notifier, _document())
    assert len(hook.arrived) == 2
    assert notifier.delivered == 1


def test_a_400_is_not_retried(
    receiver: Callable[..., Receiver], caplog: pytest.LogCaptureFixture
) -> None:
    hook = receiver(400, 200)
    notifier = _fast(hook.url, max_attempts=5)
    with caplog.at_level(logging.INFO, logger="promotion_operator.notify"):
        _deliver(notifier, _document())
    assert len(hook.arrived) == 1
    assert (notifier.delivered, notifier.failed) == (0, 1)
    refused = [r for r in caplog.records if "refused" in r.getMessage()]
    assert [(r.__dict__["status_code"], r.__dict__["attempt"]) for r in refused] == [(400, 1)]


def test_an_unreachable_receiver_never_blocks_send_and_is_given_up(
    caplog: pytest.LogCaptureFixture,
) -> None:
    notifier = _fast(_unreachable_url(), max_attempts=3)
    documents = [_document(version=str(n)) for n in range(50)]

    async def scenario() -> float:
        notifier.start()
        began = time.monotonic()
        for document in documents:
            notifier.send(document)
        sent_in = time.monotonic() - began
        await notifier.stop(drain_s=0.5)  # long enough for the first document's 3 attempts
        return sent_in

    with caplog.at_level(logging.INFO, logger="promotion_operator.notify"):
        sent_in = asyncio.run(scenario())
    assert sent_in < 0.5  # 50 sends queued, none waiting for a connection
    first = [r for r in caplog.records if r.__dict__.get("notification_id") == documents[0]["id"]]
    assert [r.__dict__["attempt"] for r in first] == [1, 2, 3]
    assert first[-1].getMessage() == "notification given up"
    assert first[-1].__dict__["error"] == "ConnectError"
    assert notifier.failed >= 1
    assert notifier.delivered == 0


def test_stop_drains_briefly_then_cancels(
    receiver: Callable[..., Receiver], caplog: pytest.LogCaptureFixture
) -> None:
    hook = receiver(*([503] * 10))
    notifier = Notifier(hook.url, max_attempts=10, first_backoff_s=30.0)
    began = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="promotion_operator.notify"):
        _deliver(notifier, _document(), _document(), drain_s=0.3)
    assert time.monotonic() - began < 5
    assert len(hook.arrived) == 1  # the first attempt; the retry 30 s later never came
    [left] = [r for r in caplog.records if "undelivered" in r.__dict__]
    assert left.__dict__["undelivered"] == 2


def test_a_full_queue_drops_the_oldest(
    receiver: Callable[..., Receiver], caplog: pytest.LogCaptureFixture
) -> None:
    hook = receiver()
    notifier = _fast(hook.url, queue_size=2)
    documents = [_document(version=v) for v in ("1", "2", "3")]

    async def scenario() -> None:
        for document in documents:  # the worker is not started: nothing is taken off
            notifier.send(document)
        notifier.start()
        await notifier.stop()

    with caplog.at_level(logging.WARNING, logger="promotion_operator.notify"):
        asyncio.run(scenario())
    assert [body["version"] for body in hook.bodies] == ["2", "3"]
    assert notifier.dropped == 1
    [dropped] = [r for r in caplog.records if "dropped" in r.getMessage()]
    assert dropped.__dict__["notification_id"] == documents[0]["id"]


def test_send_never_raises_on_a_bad_document(receiver: Callable[..., Receiver]) -> None:
    hook = receiver()
    notifier = _fast(hook.url)
    _deliver(notifier, _document(extra=object()), _document(value=float("inf")), _document())
    assert len(hook.arrived) == 1
    assert (notifier.delivered, notifier.failed) == (1, 2)


def test_a_disabled_notifier_does_nothing() -> None:
    notifier = Notifier("")

    async def scenario() -> int:
        before = len(asyncio.all_tasks())
        notifier.start()
        notifier.send(_document())
        started = len(asyncio.all_tasks()) - before
        await notifier.stop()
        return started

    assert asyncio.run(scenario()) == 0
    assert not notifier.enabled
    assert (notifier.delivered, notifier.failed, notifier.dropped) == (0, 0, 0)


def test_the_logs_never_show_the_secret_part_of_the_url(
    receiver: Callable[..., Receiver], caplog: pytest.LogCaptureFixture
) -> None:
    hook = receiver(500, 200, path="/services/T000/B000/s3cr3t-t0ken?sig=s3cr3t")
    with caplog.at_level(logging.DEBUG):
        _deliver(_fast(hook.url), _document())
    assert len(hook.arrived) == 2
    logged = " ".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "127.0.0.1" in logged
    assert "s3cr3t" not in logged


@pytest.mark.parametrize("url", ["ftp://host/x", "hooks.example.com/x", "http://"])
def test_a_url_that_is_not_http_is_refused_without_being_echoed(url: str) -> None:
    with pytest.raises(ValueError, match="MLROLLOUT_OPERATOR_WEBHOOK_URL") as raised:
        Notifier(url)
    assert url not in str(raised.value)


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLROLLOUT_OPERATOR_WEBHOOK_URL", "https://hooks.example.com/x")
    monkeypatch.setenv("MLROLLOUT_OPERATOR_WEBHOOK_MAX_ATTEMPTS", "2")
    settings = OperatorSettings()
    assert settings.webhook_url == "https://hooks.example.com/x"
    assert Notifier.from_settings(settings).enabled
    monkeypatch.delenv("MLROLLOUT_OPERATOR_WEBHOOK_URL")
    assert not Notifier.from_settings(OperatorSettings()).enabled
