"""Conditions keep their lastTransitionTime while their status does not change."""

from __future__ import annotations

from datetime import UTC, datetime

from promotion_operator.conditions import set_condition
from promotion_operator.status import Condition, ConditionType, PromotionStatus

T1 = datetime(2026, 1, 1, 0, 0, 1, tzinfo=UTC)
T2 = datetime(2026, 1, 1, 0, 0, 2, tzinfo=UTC)
AVAILABLE, VERIFIED = ConditionType.AVAILABLE, ConditionType.VERIFIED


def test_unchanged_status_keeps_transition_time_but_updates_reason() -> None:
    first = set_condition([], AVAILABLE, True, reason="Promoted", message="v1", now=T1)
    second = set_condition(first, AVAILABLE, True, reason="Promoted", message="v2", now=T2)
    condition = PromotionStatus(conditions=second).condition(AVAILABLE)
    assert condition is not None
    assert condition.last_transition_time == T1
    assert condition.message == "v2"


def test_changed_status_moves_transition_time() -> None:
    first = set_condition([], AVAILABLE, True, reason="Promoted", message="", now=T1)
    second = set_condition(first, AVAILABLE, False, reason="RolledBack", message="", now=T2)
    assert second == [
        Condition(type=AVAILABLE, status="False", reason="RolledBack", message="",
                  last_transition_time=T2)
    ]  # fmt: skip
    assert second[0].to_json() == {
        "type": "Available", "status": "False", "reason": "RolledBack",
        "message": "", "lastTransitionTime": "2026-01-01T00:00:02Z",
    }  # fmt: skip


def test_other_conditions_are_left_alone_and_unknown_is_a_status() -> None:
    both = set_condition(
        set_condition([], AVAILABLE, True, reason="r", message="", now=T1),
        VERIFIED, None, reason="r", message="", now=T2,
    )  # fmt: skip
    assert [c.type for c in both] == [AVAILABLE, VERIFIED]
    assert both[1].status == "Unknown"
