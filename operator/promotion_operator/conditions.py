"""Kubernetes-style conditions: setting an unchanged condition keeps its lastTransitionTime."""

from __future__ import annotations

from typing import Any

GATES_PASSED = "GatesPassed"
PROGRESSING = "Progressing"
AVAILABLE = "Available"
VERIFIED = "Verified"
ROLLED_BACK = "RolledBack"


def set_condition(
    conditions: list[dict[str, Any]],
    type_: str,
    status: bool | None,
    *,
    reason: str,
    message: str,
    now: str,
) -> list[dict[str, Any]]:
    """A new list with ``type_`` set; its transition time moves only when its status changes."""
    value = {True: "True", False: "False", None: "Unknown"}[status]
    updated: list[dict[str, Any]] = []
    found = False
    for condition in conditions:
        if condition.get("type") != type_:
            updated.append(condition)
            continue
        found = True
        since = condition.get("lastTransitionTime", now)
        if condition.get("status") != value:
            since = now
        updated.append(_condition(type_, value, reason, message, since))
    if not found:
        updated.append(_condition(type_, value, reason, message, now))
    return updated


def _condition(type_: str, status: str, reason: str, message: str, since: str) -> dict[str, Any]:
    return {
        "type": type_,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": since,
    }


def get_condition(conditions: list[dict[str, Any]], type_: str) -> dict[str, Any] | None:
    return next((c for c in conditions if c.get("type") == type_), None)
