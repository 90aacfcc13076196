"""Conditions keep their lastTransitionTime while their status does not change."""

from __future__ import annotations

from promotion_operator.conditions import get_condition, set_condition


def test_unchanged_status_keeps_transition_time_but_updates_reason() -> None:
    first = set_condition([], "Available", True, reason="Promoted", message="v1", now="T1")
    second = set_condition(first, "Available", True, reason="Promoted", message="v2", now="T2")
    condition = get_condition(second, "Available")
    assert condition is not None
    assert condition["lastTransitionTime"] == "T1"
    assert condition["message"] == "v2"


def test_changed_status_moves_transition_time() -> None:
    first = set_condition([], "Available", True, reason="Promoted", message="", now="T1")
    second = set_condition(first, "Available", False, reason="RolledBack", message="", now="T2")
    condition = get_condition(second, "Available")
    assert condition == {
        "type": "Available", "status": "False", "reason": "RolledBack",
        "message": "", "lastTransitionTime": "T2",
    }  # fmt: skip


def test_other_conditions_are_left_alone_and_unknown_is_a_status() -> None:
    both = set_condition(
        set_condition([], "A", True, reason="r", message="", now="T1"),
        "B", None, reason="r", message="", now="T2",
    )  # fmt: skip
    assert [c["type"] for c in both] == ["A", "B"]
    b = get_condition(both, "B")
    assert b is not None
    assert b["status"] == "Unknown"
