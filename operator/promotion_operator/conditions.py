"""Kubernetes-style conditions: setting an unchanged condition keeps its lastTransitionTime."""

from __future__ import annotations

from datetime import datetime

from .status import Condition, ConditionStatus, ConditionType

_STATUS: dict[bool | None, ConditionStatus] = {True: "True", False: "False", None: "Unknown"}


def set_condition(
    conditions: list[Condition],
    type_: ConditionType,
    status: bool | None,
    *,
    reason: str,
    message: str,
    now: datetime,
) -> list[Condition]:
    """A new list with ``type_`` set; its transition time moves only when its status changes."""
    value = _STATUS[status]
    updated: list[Condition] = []
    found = False
    for condition in conditions:
        if condition.type is not type_:
            updated.append(condition)
            continue
        found = True
        since = condition.last_transition_time if condition.status == value else now
        updated.append(_condition(type_, value, reason, message, since))
    if not found:
        updated.append(_condition(type_, value, reason, message, now))
    return updated


def _condition(
    type_: ConditionType, status: ConditionStatus, reason: str, message: str, since: datetime
) -> Condition:
    return Condition(
        type=type_, status=status, reason=reason, message=message, last_transition_time=since
    )
