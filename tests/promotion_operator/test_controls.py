"""A person's hand on a promotion: pause, approval, abort, retry, undo (against the fakes)."""

from __future__ import annotations

from typing import Any

from promotion_operator.control import Action
from promotion_operator.status import ConditionType, PromotionPhase

from .fakes import World
from .test_reconcile import GOOD, drive_to_verifying, run, verify, world_with

BAD = {"accuracy": 0.55, "latency_p95_ms": 4.0}


def promoted_twice() -> World:
    """Version 1 promoted, then version 2 promoted over it."""
    world = world_with({"1": GOOD, "2": GOOD})
    world.spec["model"]["version"] = "1"
    drive_to_verifying(world, "1")
    verify(world)
    world.spec["model"]["version"] = "2"
    drive_to_verifying(world, "2")
    verify(world)
    assert world.phase() == PromotionPhase.PROMOTED, world.message
    return world


def with_approval(stage: str, **rollout: Any) -> World:
    world = world_with({"2": GOOD})
    world.spec["rollout"].update({"approval": stage, **rollout})
    return world


def test_pause_holds_a_verifying_promotion_and_resume_goes_on() -> None:
    world = world_with({"2": GOOD})
    drive_to_verifying(world, "2")
    run(world.tick(10))  # opens the window
    world.spec["paused"] = True
    world.generation += 1
    run(world.tick(1))
    assert world.phase() == PromotionPhase.VERIFYING
    assert world.status.paused_at is not None
    assert world.message.startswith("paused in Verifying")
    paused = world.status.condition(ConditionType.PAUSED)
    assert paused is not None
    assert paused.status == "True"
    assert world.live.smoking is None  # no smoke load while held
    taken = len(world.status.verification.samples) if world.status.verification else 0
    for _ in range(10):
        run(world.tick(10))
    assert world.phase() == PromotionPhase.VERIFYING  # 100 s held: not a single round judged
    assert world.status.verification is not None
    assert len(world.status.verification.samples) == taken
    world.spec["paused"] = False
    world.generation += 1
    run(world.tick(1))
    assert world.status.paused_at is None
    assert world.message.startswith("resumed in Verifying after 10")
    verify(world, rounds=8)
    assert world.phase() == PromotionPhase.PROMOTED, world.message
    assert "Paused" in world.reasons()
    assert "Resumed" in world.reasons()


def test_pausing_and_resuming_a_failed_promotion_does_not_retry_it() -> None:
    world = world_with({})  # version 2 does not exist: Failed
    run(world.tick())
    assert world.phase() == PromotionPhase.FAILED
    started = world.reasons().count("PromotionStarted")
    for paused in (True, False):
        world.spec["paused"] = paused
        world.generation += 1
        run(world.tick(5))
    assert world.phase() == PromotionPhase.FAILED
    assert world.reasons().count("PromotionStarted") == started


def test_a_paused_promotion_starts_nothing_new() -> None:
    world = promoted_twice()
    world.spec["paused"] = True
    world.registry.versions["3"] = GOOD
    world.spec["model"]["version"] = "3"
    world.generation += 1
    run(world.tick(5))
    assert world.status.candidate_version == "2"
    world.spec["paused"] = False
    world.generation += 1
    run(world.tick(5))
    assert world.status.candidate_version == "3"


def test_the_rollout_deadline_moves_on_by_the_time_held() -> None:
    world = world_with({"2": GOOD})
    run(world.tick())
    assert world.phase() == PromotionPhase.ROLLING_OUT
    assert world.status.rollout is not None
    deadline = world.status.rollout.deadline
    world.spec["paused"] = True
    run(world.tick(1))
    world.spec["paused"] = False
    run(world.tick(120))  # held 120 s, more than the 60 s deadline
    assert world.phase() == PromotionPhase.ROLLING_OUT, world.message
    assert (world.status.rollout.deadline - deadline).total_seconds() == 120


def test_approval_before_rollout_waits_and_approve_rolls_out() -> None:
    world = with_approval("beforeRollout")
    run(world.tick())
    assert world.phase() == PromotionPhase.AWAITING_APPROVAL
    assert "kubectl mlrollout approve churn -n ml" in world.message
    assert world.cluster.applied == []  # nothing rolled out while waiting
    run(world.tick(600))
    assert world.phase() == PromotionPhase.AWAITING_APPROVAL  # no deadline: it waits
    asked = world.ask(Action.APPROVE, version="2")
    run(world.tick(1))
    assert world.answer(asked) == (True, "version 2 approved (beforeRollout) by alice")
    assert world.phase() == PromotionPhase.ROLLING_OUT
    assert world.status.approval is None
    world.cluster.ready.add("2")
    run(world.tick(5))
    verify(world)
    assert world.phase() == PromotionPhase.PROMOTED, world.message


def test_an_approval_past_its_deadline_rejects_the_version() -> None:
    world = with_approval("beforeRollout", approvalDeadlineSeconds=60)
    run(world.tick())
    assert world.status.approval is not None
    assert world.status.approval.deadline is not None
    run(world.tick(61))
    assert world.phase() == PromotionPhase.REJECTED
    assert world.message == "version 2 was not approved within 60s"
    assert world.cluster.applied == []
    assert world.registry.tags["2"]["mlrollout.dev/outcome"] == "rejected"
    assert "ApprovalExpired" in world.reasons()


def test_approval_before_promotion_holds_the_alias_until_approved() -> None:
    world = with_approval("beforePromotion")
    drive_to_verifying(world, "2")
    verify(world)
    assert world.phase() == PromotionPhase.AWAITING_APPROVAL, world.message
    assert "production" not in world.registry.aliases
    asked = world.ask(Action.APPROVE)
    run(world.tick(1))
    assert world.answer(asked)[0]
    assert world.phase() == PromotionPhase.PROMOTED
    assert world.registry.aliases["production"] == "2"


def test_a_candidate_failing_while_awaiting_promotion_approval_is_rolled_back() -> None:
    world = with_approval("beforePromotion")
    drive_to_verifying(world, "2")
    verify(world)
    world.cluster.failing["2"] = "CrashLoopBackOff"
    run(world.tick(5))
    assert world.phase() in {PromotionPhase.ROLLING_BACK, PromotionPhase.ROLLED_BACK}
    assert "failed while awaiting approval" in world.message


def test_abort_mid_verification_rolls_back_and_records_who_asked() -> None:
    world = promoted_twice()
    world.registry.versions["3"] = GOOD
    world.spec["model"]["version"] = "3"
    drive_to_verifying(world, "3")
    asked = world.ask(Action.ABORT, by="bob", version="3", reason="dashboards look odd")
    run(world.tick(1))
    accepted, message = world.answer(asked)
    assert accepted
    assert message == "version 3 aborted by bob: dashboards look odd"
    assert world.cluster.serving_version == "2"
    run(world.tick(5))
    assert world.phase() == PromotionPhase.ROLLED_BACK, world.message
    entry = world.status.history[0]
    assert (entry.version, entry.action, entry.requested_by) == ("3", "abort", "bob")
    assert world.registry.aliases["production"] == "2"
    run(world.tick(30))  # the aborted version is not tried again by itself
    assert world.phase() == PromotionPhase.ROLLED_BACK
    assert "Aborted" in world.reasons()


def test_a_request_is_handled_once_and_a_stale_one_is_refused() -> None:
    world = world_with({"2": GOOD})
    drive_to_verifying(world, "2")
    asked = world.ask(Action.ABORT, version="1")  # what the user saw is gone
    run(world.tick(1))
    accepted, message = world.answer(asked)
    assert not accepted
    assert "asked for version 1, and the promotion is now about version 2" in message
    assert world.phase() == PromotionPhase.VERIFYING
    assert "RequestRefused" in world.reasons()
    for _ in range(3):  # the annotation stays; the operator does not judge it again
        run(world.tick(1))
    assert [r.id for r in world.status.requests] == [asked]


def test_retry_evaluates_a_rejected_version_again() -> None:
    world = world_with({"2": BAD})
    run(world.tick())
    assert world.phase() == PromotionPhase.REJECTED
    world.registry.versions["2"] = GOOD  # the run's metrics were fixed in MLflow
    run(world.tick(5))
    assert world.phase() == PromotionPhase.REJECTED  # nothing changed in the spec
    asked = world.ask(Action.RETRY, version="2")
    run(world.tick(1))
    assert world.answer(asked) == (True, "version 2 evaluated again, asked by alice")
    assert world.phase() == PromotionPhase.ROLLING_OUT, world.message


def test_undo_serves_the_previous_version_without_gates() -> None:
    world = promoted_twice()
    world.registry.versions["1"] = BAD  # its gates would fail now: an undo does not ask them
    asked = world.ask(Action.UNDO, by="carol")
    run(world.tick(1))
    accepted, message = world.answer(asked)
    assert accepted, message
    assert message == "undo by carol: version 1 serves again (version 2 replaced)"
    assert world.cluster.serving_version == "1"
    run(world.tick(1))  # version 1's pods are ready (the fake says so at once)
    assert world.phase() == PromotionPhase.ROLLED_BACK, world.message
    assert world.status.serving_version == "1"
    assert world.status.last_known_good_version == "1"
    assert world.registry.aliases["production"] == "1"
    assert world.registry.tags["2"]["mlrollout.dev/outcome"] == "rolled-back"
    entry = world.status.history[0]
    assert (entry.version, entry.action, entry.requested_by) == ("2", "undo", "carol")
    run(world.tick(60))  # the spec still names version 2: it is not promoted again by itself
    assert world.status.serving_version == "1"


def test_undo_after_an_alias_moved_back_does_not_judge_the_old_version_again() -> None:
    world = promoted_twice()
    world.spec["model"] = {"name": "churn-classifier", "alias": "production"}
    world.registry.aliases["production"] = "2"
    run(world.tick(31))
    world.ask(Action.UNDO)
    run(world.tick(1))
    run(world.tick(31))  # the alias poll sees version 1 now
    assert world.phase() == PromotionPhase.ROLLED_BACK, world.message
    assert world.status.serving_version == "1"
    assert world.reasons().count("PromotionStarted") == 2


def test_undo_to_a_named_version_and_the_refusals() -> None:
    world = promoted_twice()
    asked = world.ask(Action.UNDO, to_version="7")
    run(world.tick(1))
    assert world.answer(asked) == (
        False,
        "version 7 never passed here; known-good versions other than the serving one (2): 1",
    )
    world.registry.versions["3"] = GOOD
    world.spec["model"]["version"] = "3"
    run(world.tick(1))
    asked = world.ask(Action.UNDO, to_version="1")
    run(world.tick(1))
    running = "a promotion is running (phase RollingOut): abort it first"
    assert world.answer(asked) == (False, running)
    asked = world.ask(Action.APPROVE)
    run(world.tick(1))
    assert world.answer(asked) == (False, "nothing awaits approval (phase RollingOut)")


def test_each_verification_round_keeps_its_values_for_the_dashboard() -> None:
    world = world_with({"2": GOOD})
    drive_to_verifying(world, "2")
    run(world.tick(10))
    run(world.tick(10))
    progress = world.status.verification
    assert progress is not None
    assert progress.samples
    assert {"latency_p95_ms", "error_rate"} <= set(progress.samples[-1].values)
