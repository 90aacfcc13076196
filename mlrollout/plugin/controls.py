"""Approve, abort, retry and undo from the plugin: check, ask, and wait for the operator's answer.

The operator judges every request again (`promotion_operator.controls`); the checks here only
save a round trip and say, before anything is written, what the command needs. A request is
written with the resourceVersion the checks read: when the object moved on meanwhile, the API
server answers 409 and the request is checked again against the new state.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from promotion_operator.control import (
    RETRYABLE,
    RUNNING,
    Action,
    ControlRequest,
    InvalidRequest,
    new_request,
    no_undo_target,
    read_request,
    request_patch,
    undo_target,
)
from promotion_operator.status import (
    CONCLUDED,
    ControlRecord,
    PromotionPhase,
    PromotionStatus,
    read_status,
)

from .kube import Conflict, KubeError

T = TypeVar("T")
ATTEMPTS = 5  # writes tried when the object keeps changing under the request (409 Conflict)
POLL_S = 0.5  # how often the status is read while waiting for the operator's answer


class PromotionApi(Protocol):
    """The API calls a control needs (`kube.Promotions`, or a fake in the tests)."""

    def get(self, name: str) -> dict[str, Any]: ...
    def patch(self, name: str, body: dict[str, Any]) -> dict[str, Any]: ...
    def whoami(self) -> str: ...


class Clock(Protocol):
    def now(self) -> float: ...
    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class NotNow(Exception):
    """The promotion is not in a state the command applies to (exit 1, nothing written)."""


def check(action: Action, status: PromotionStatus, to_version: str | None = None) -> None:
    """Raise `NotNow` naming the phase and what ``action`` needs, when it does not apply."""
    phase = status.current_phase.value
    if action is Action.APPROVE and status.current_phase is not PromotionPhase.AWAITING_APPROVAL:
        raise NotNow(
            f"nothing awaits approval: the phase is {phase}; approve needs AwaitingApproval"
        )
    if action is Action.ABORT and status.current_phase not in RUNNING:
        raise NotNow(
            f"no promotion is running: the phase is {phase}; abort needs one of "
            f"{_names(RUNNING)} (undo goes back to a known-good version)"
        )
    if action is Action.RETRY and status.current_phase not in RETRYABLE:
        raise NotNow(
            f"nothing to retry: the phase is {phase}; retry needs one of {_names(RETRYABLE)}"
        )
    if action is Action.UNDO:
        if status.current_phase not in CONCLUDED:
            raise NotNow(
                f"a promotion is running: the phase is {phase}; undo needs one of "
                f"{_names(CONCLUDED)} (abort a running one first)"
            )
        if undo_target(status, to_version) is None:
            raise NotNow(no_undo_target(status, to_version))


def pending(obj: dict[str, Any]) -> tuple[ControlRequest, str] | None:
    """A request on the object that the operator has not answered yet, and who asked."""
    try:
        asked = read_request(obj.get("metadata") or {})
    except InvalidRequest:
        return None  # the operator cannot read it either; a new request replaces it
    if asked is None or read_status(obj).answer(asked[0].id) is not None:
        return None
    return asked


def ask(
    api: PromotionApi,
    name: str,
    action: Action,
    *,
    to_version: str | None = None,
    reason: str = "",
    queue_s: float = 10.0,
    clock: Clock | None = None,
) -> ControlRequest:
    """Write a request for ``action`` as the authenticated user, once the checks pass."""
    clock = clock or SystemClock()
    user = api.whoami()
    for _ in range(ATTEMPTS):
        obj = _when_free(api, name, queue_s, clock)
        status = read_status(obj)
        check(action, status, to_version)
        target = undo_target(status, to_version) if action is Action.UNDO else None
        request = new_request(
            action, version=status.candidate_version, to_version=target, reason=reason
        )
        version = str((obj.get("metadata") or {}).get("resourceVersion", ""))
        try:
            api.patch(name, request_patch(request, user, version))
        except Conflict:
            continue  # changed since read: read and check again
        return request
    raise KubeError(f"modelpromotion {name!r} kept changing while asking; try again")


def _when_free(api: PromotionApi, name: str, queue_s: float, clock: Clock) -> dict[str, Any]:
    """The object once no earlier request waits on it: writing over a request the operator
    has not answered yet would lose it."""
    seen: list[dict[str, Any]] = []

    def free() -> dict[str, Any] | None:
        seen[:] = [api.get(name)]
        return None if pending(seen[0]) else seen[0]

    obj = poll(free, queue_s, clock)
    if obj is not None:
        return obj
    waiting = pending(seen[0])
    request, by = waiting if waiting else (None, "?")
    what = f"{request.action.value} by {by}, id {request.id}" if request else "?"
    raise KubeError(
        f"an earlier request ({what}) is still waiting for the operator: is the operator "
        f"running? ask again once it answered (kubectl mlrollout get {name})"
    )


def wait_for_answer(
    api: PromotionApi, name: str, request_id: str, timeout_s: float, clock: Clock | None = None
) -> ControlRecord | None:
    """The operator's answer to the request (from `status.requests`); None after ``timeout_s``."""
    return poll(lambda: read_status(api.get(name)).answer(request_id), timeout_s, clock)


def wait_for_hold(
    api: PromotionApi, name: str, paused: bool, timeout_s: float, clock: Clock | None = None
) -> PromotionStatus | None:
    """The status once the operator holds (``paused``) or released the promotion; None when it
    did not within ``timeout_s``."""

    def held() -> PromotionStatus | None:
        status = read_status(api.get(name))
        return status if (status.paused_at is not None) == paused else None

    return poll(held, timeout_s, clock)


def poll(read: Callable[[], T | None], timeout_s: float, clock: Clock | None = None) -> T | None:
    """``read()`` every POLL_S until it gives something; None once ``timeout_s`` passed."""
    clock = clock or SystemClock()
    deadline = clock.now() + timeout_s
    while True:
        found = read()
        if found is not None:
            return found
        left = deadline - clock.now()
        if left <= 0:
            return None
        clock.sleep(min(POLL_S, left))


def _names(phases: frozenset[PromotionPhase]) -> str:
    ordered = [p.value for p in PromotionPhase if p in phases]
    return ", ".join(ordered)
