"""The plugin's controls: the phase checks, the undo target, and asking then waiting for the
operator, against an in-memory fake of the API calls."""

from __future__ import annotations

from typing import Any

import pytest

from mlrollout.plugin import controls
from mlrollout.plugin.kube import KubeError
from promotion_operator.control import (
    REQUEST_ANNOTATION,
    REQUESTED_BY_ANNOTATION,
    Action,
    new_request,
    read_request,
    undo_target,
)
from promotion_operator.status import HistoryEntry, PromotionPhase, PromotionStatus, read_status

from .fakes import FakeApi, FakeClock
from .objects import answered, awaiting_approval, concluded, promotion, verifying

P = PromotionPhase
# The contract's rules, spelled out here rather than imported: a change to them fails a test.
ALLOWED = {
    Action.APPROVE: {P.AWAITING_APPROVAL},
    Action.ABORT: {P.EVALUATING, P.ROLLING_OUT, P.VERIFYING, P.AWAITING_APPROVAL},
    Action.RETRY: {P.REJECTED, P.ROLLED_BACK, P.FAILED},
    Action.UNDO: {P.PROMOTED, P.REJECTED, P.ROLLED_BACK, P.FAILED},
}


def in_phase(phase: PromotionPhase) -> PromotionStatus:
    status = concluded(P.PROMOTED, "8", "8")  # 7 and 5 promoted before: something to undo to
    status.phase = phase
    return status


@pytest.mark.parametrize("action", list(ALLOWED))
@pytest.mark.parametrize("phase", list(PromotionPhase))
def test_each_command_applies_in_the_contracts_phases_only(
    action: Action, phase: PromotionPhase
) -> None:
    if phase in ALLOWED[action]:
        controls.check(action, in_phase(phase))
        return
    with pytest.raises(controls.NotNow) as refused:
        controls.check(action, in_phase(phase))
    message = str(refused.value)
    assert f"the phase is {phase.value}; {action.value} needs" in message
    for allowed in ALLOWED[action]:
        assert allowed.value in message


def test_undo_goes_back_to_the_newest_other_promoted_version() -> None:
    status = concluded(P.PROMOTED, "8", "8")  # history: 8, 7 promoted, 6 rolled back, 5
    assert undo_target(status, None) == "7"
    assert undo_target(status, "5") == "5"
    assert undo_target(status, "6") is None  # rolled back: never passed
    assert undo_target(status, "8") is None  # serves already


def test_undo_falls_back_to_last_known_good_when_history_has_no_other() -> None:
    status = concluded(P.ROLLED_BACK, "9", "8")
    status.history = [HistoryEntry(version="9", outcome=P.ROLLED_BACK)]
    status.last_known_good.version = "4"  # type: ignore[union-attr]
    assert undo_target(status, None) == "4"


def test_undo_without_a_target_says_why_and_lists_the_known_good_versions() -> None:
    status = concluded(P.PROMOTED, "8", "8")
    with pytest.raises(controls.NotNow, match=r"version 3 never passed here; .*: 7, 5$"):
        controls.check(Action.UNDO, status, "3")
    with pytest.raises(controls.NotNow, match="version 8 already serves"):
        controls.check(Action.UNDO, status, "8")
    status.history = []
    with pytest.raises(controls.NotNow, match=r"nothing to undo to; .*\(8\): none"):
        controls.check(Action.UNDO, status)


def test_a_request_is_written_as_the_user_with_the_resource_version_it_was_checked_at() -> None:
    api = FakeApi({"churn": promotion(concluded(P.PROMOTED, "8", "8"), resource_version="41")})
    asked = controls.ask(api, "churn", Action.UNDO, reason="too slow")
    [patch] = api.patches
    assert patch["metadata"]["resourceVersion"] == "41"
    request, by = read_request(patch["metadata"]) or (None, "")
    assert by == "alice" == patch["metadata"]["annotations"][REQUESTED_BY_ANNOTATION]
    assert request is not None
    assert request.id == asked.id
    assert (asked.action, asked.version, asked.to_version, asked.reason) == (
        Action.UNDO, "8", "7", "too slow",
    )  # fmt: skip


def test_a_refused_check_writes_nothing() -> None:
    api = FakeApi({"churn": promotion(verifying())})
    with pytest.raises(controls.NotNow, match="the phase is Verifying; approve needs"):
        controls.ask(api, "churn", Action.APPROVE)
    assert api.patches == []


def test_a_conflict_is_read_and_checked_again_then_written() -> None:
    api = FakeApi({"churn": promotion(awaiting_approval(), resource_version="7")}, conflicts=1)
    controls.ask(api, "churn", Action.APPROVE)
    assert [p["metadata"]["resourceVersion"] for p in api.patches] == ["7", "8"]
    assert read_request(api.objects["churn"]["metadata"]) is not None


def test_a_conflict_that_moved_the_phase_on_is_refused_by_the_check_again() -> None:
    api = FakeApi({"churn": promotion(awaiting_approval())}, conflicts=1)

    def approved_by_someone_else(obj: dict[str, Any]) -> None:
        if api.patches:  # after the first (refused) write, the promotion went on
            obj["status"]["phase"] = "Promoted"

    api.on_get = approved_by_someone_else
    with pytest.raises(controls.NotNow, match="the phase is Promoted"):
        controls.ask(api, "churn", Action.APPROVE)
    assert len(api.patches) == 1


def test_asking_gives_up_when_every_write_conflicts() -> None:
    api = FakeApi({"churn": promotion(verifying())}, conflicts=99)
    with pytest.raises(KubeError, match="kept changing"):
        controls.ask(api, "churn", Action.ABORT)
    assert len(api.patches) == controls.ATTEMPTS


def pending_from_bob(status: PromotionStatus) -> dict[str, Any]:
    earlier = new_request(Action.ABORT, version="8")
    annotations = {REQUEST_ANNOTATION: earlier.to_annotation(), REQUESTED_BY_ANNOTATION: "bob"}
    return promotion(status, annotations=annotations)


def test_an_unanswered_request_of_someone_else_is_waited_for_not_overwritten() -> None:
    api = FakeApi({"churn": pending_from_bob(awaiting_approval())})
    clock = FakeClock()

    def operator_answers_after_a_second() -> None:
        if clock.t >= 1.0:
            obj = api.objects["churn"]
            asked = read_request(obj["metadata"])
            assert asked is not None
            obj["status"]["requests"] = [answered(asked[0].id, "abort").to_json()]

    clock.on_sleep = operator_answers_after_a_second
    controls.ask(api, "churn", Action.APPROVE, clock=clock)
    assert clock.t == pytest.approx(1.0)
    assert len(api.patches) == 1


def test_an_earlier_request_never_answered_is_reported_and_not_overwritten() -> None:
    api = FakeApi({"churn": pending_from_bob(awaiting_approval())})
    clock = FakeClock()
    with pytest.raises(KubeError, match=r"earlier request \(abort by bob, id .*operator running"):
        controls.ask(api, "churn", Action.APPROVE, queue_s=3, clock=clock)
    assert api.patches == []
    assert 3 <= clock.t <= 3.5


def test_an_answered_or_unreadable_request_is_not_pending() -> None:
    obj = pending_from_bob(awaiting_approval())
    asked = read_request(obj["metadata"])
    assert asked is not None
    assert controls.pending(obj) == asked
    obj["status"]["requests"] = [answered(asked[0].id, "abort").to_json()]
    assert controls.pending(obj) is None
    obj["metadata"]["annotations"][REQUEST_ANNOTATION] = "{not json"
    obj["status"]["requests"] = []
    assert controls.pending(obj) is None


def test_waiting_returns_the_operators_answer_once_it_is_in_status() -> None:
    api = FakeApi({"churn": promotion(verifying())})
    clock = FakeClock()
    request = controls.ask(api, "churn", Action.ABORT, clock=clock)

    def answer_at_2s() -> None:
        if clock.t >= 2:
            record = answered(request.id, "abort", message="version 8 aborted by alice")
            api.objects["churn"]["status"]["requests"] = [record.to_json()]

    clock.on_sleep = answer_at_2s
    record = controls.wait_for_answer(api, "churn", request.id, 60, clock)
    assert record is not None
    assert record.accepted
    assert record.message.endswith("by alice")
    assert clock.t == pytest.approx(2.0)


def test_waiting_gives_up_at_the_timeout() -> None:
    api = FakeApi({"churn": promotion(verifying())})
    clock = FakeClock()
    assert controls.wait_for_answer(api, "churn", "never", 5, clock) is None
    assert clock.t == pytest.approx(5.0)
    assert max(clock.slept) <= controls.POLL_S


def test_waiting_for_a_pause_ends_when_the_operator_holds_it() -> None:
    api = FakeApi({"churn": promotion(verifying(), paused=True)})
    clock = FakeClock()

    def hold_at_1s() -> None:
        if clock.t >= 1:
            api.objects["churn"]["status"]["pausedAt"] = "2026-11-27T10:10:01Z"

    clock.on_sleep = hold_at_1s
    status = controls.wait_for_hold(api, "churn", True, 10, clock)
    assert status is not None
    assert status.paused_at is not None
    assert clock.t == pytest.approx(1.0)
    released = controls.wait_for_hold(api, "churn", False, 2, clock)
    assert released is None
    assert read_status(api.objects["churn"]).paused_at is not None
