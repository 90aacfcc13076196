"""The promotion state machine, driven step by step against in-memory fakes."""

from __future__ import annotations

import asyncio
from typing import Any

from promotion_operator.status import (
    Candidate,
    ConditionType,
    MeasurementPhase,
    PromotionPhase,
    PromotionStatus,
    VersionRef,
)

from .fakes import World, base_spec

GOOD = {"accuracy": 0.97, "latency_p95_ms": 4.0}
BAD = {"accuracy": 0.55, "latency_p95_ms": 4.0}


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def world_with(versions: dict[str, dict[str, float]], **spec: Any) -> World:
    world = World(base_spec(**spec))
    world.registry.versions.update(versions)
    return world


def promoted(version: str) -> PromotionStatus:
    """The status of a promotion that concluded with ``version`` promoted and serving."""
    ref = VersionRef(version=version)
    return PromotionStatus(
        phase=PromotionPhase.PROMOTED, candidate=Candidate(version=version),
        serving=ref, last_known_good=ref,
    )  # fmt: skip


def retry_attempt(world: World) -> int:
    assert world.status.retry is not None, world.message
    return world.status.retry.attempt


def drive_to_verifying(world: World, version: str) -> None:
    run(world.tick())
    assert world.phase() == PromotionPhase.ROLLING_OUT, world.message
    world.cluster.ready.add(version)
    run(world.tick(5))
    assert world.phase() == PromotionPhase.VERIFYING, world.message


def verify(world: World, rounds: int = 5) -> None:
    for _ in range(rounds):
        run(world.tick(10))
        if world.phase() != PromotionPhase.VERIFYING:
            return


def test_a_good_version_is_rolled_out_verified_and_promoted() -> None:
    world = world_with({"2": GOOD})
    drive_to_verifying(world, "2")
    assert world.cluster.serving_version == "2"
    assert world.live.smoke == ["start 2"]
    verify(world)
    assert world.phase() == PromotionPhase.PROMOTED, world.message
    assert world.registry.aliases["production"] == "2"
    assert world.registry.tags["2"]["mlrollout.dev/outcome"] == "promoted"
    assert world.status.serving == VersionRef(version="2")
    assert world.status.last_known_good == VersionRef(version="2")
    assert world.status.history[0].outcome is PromotionPhase.PROMOTED
    assert [g.phase for g in world.status.gates] == [MeasurementPhase.SUCCESSFUL] * 4
    assert world.live.smoke[-1] == "stop"
    assert world.reasons() == ["PromotionStarted", "RollingOut", "Promoted"]
    conditions = {c.type: c.status for c in world.status.conditions}
    assert conditions[ConditionType.GATES_PASSED] == "True"
    assert conditions[ConditionType.VERIFIED] == "True"
    assert conditions[ConditionType.AVAILABLE] == "True"


def test_a_failing_offline_gate_rejects_without_touching_the_cluster() -> None:
    world = world_with({"2": BAD})
    run(world.tick())
    assert world.phase() == PromotionPhase.REJECTED
    assert world.message == "gate accuracy failed: 0.55 < 0.9 (run run-2)"
    assert world.cluster.applied == []
    assert world.registry.tags["2"]["mlrollout.dev/outcome"] == "rejected"
    assert ("Warning", "Rejected") in [(t, r) for t, r, _ in world.events.posted]
    run(world.tick(60))  # concluded: nothing more happens for the same version
    assert world.cluster.applied == []


def test_mlflow_outage_is_retried_with_backoff_and_never_rolls_out() -> None:
    world = world_with({"2": GOOD})
    world.registry.down = True
    run(world.tick())
    assert world.phase() == PromotionPhase.EVALUATING
    assert "MLflow unreachable, nothing rolled out" in world.message
    assert {g.phase for g in world.status.gates} == {MeasurementPhase.ERROR}
    assert retry_attempt(world) == 1
    run(world.tick(1))  # inside the back-off window: nothing is tried
    assert retry_attempt(world) == 1
    run(world.tick(5))
    assert retry_attempt(world) == 2  # waited 5 s, now 10 s
    assert world.cluster.applied == []
    world.registry.down = False
    run(world.tick(11))
    assert world.phase() == PromotionPhase.ROLLING_OUT
    assert world.status.retry is None


def test_a_version_that_never_gets_ready_rolls_back_to_the_last_known_good() -> None:
    world = world_with({"1": GOOD, "2": GOOD})
    world.spec["model"]["version"] = "1"
    drive_to_verifying(world, "1")
    verify(world)
    assert world.phase() == PromotionPhase.PROMOTED
    world.spec["model"]["version"] = "2"
    world.generation = 2
    run(world.tick())
    assert world.phase() == PromotionPhase.ROLLING_OUT
    assert world.cluster.serving_version == "2"
    run(world.tick(30))
    assert world.phase() == PromotionPhase.ROLLING_OUT  # still inside the 60 s deadline
    world.cluster.ready.discard("1")  # the restored pods take a moment to be ready again
    run(world.tick(31))
    assert world.phase() == PromotionPhase.ROLLING_BACK
    assert world.cluster.serving_version == "1"
    run(world.tick(5))
    assert world.phase() == PromotionPhase.ROLLING_BACK
    world.cluster.ready.add("1")
    run(world.tick(5))
    assert world.phase() == PromotionPhase.ROLLED_BACK
    assert "no ready pods within 60s" in world.message
    assert world.status.serving == VersionRef(version="1")
    assert world.status.candidate_version == "2"
    assert world.registry.aliases["production"] == "1"
    assert world.registry.tags["2"]["mlrollout.dev/outcome"] == "rolled-back"


def test_a_model_that_fails_to_load_rolls_back_at_once() -> None:
    world = world_with({"1": GOOD, "2": GOOD})
    world.status = promoted("1")
    world.cluster.ready.add("1")
    world.cluster.failing["2"] = "pod churn-x: model failed to load: cannot download"
    run(world.tick())  # rolled out, found broken and rolled back in one pass: v1 never left
    assert world.phase() == PromotionPhase.ROLLED_BACK
    assert "model failed to load" in world.message
    assert world.cluster.serving_version == "1"
    assert world.reasons() == ["PromotionStarted", "RollingOut", "RollingBack", "RolledBack"]


def test_a_failing_online_gate_rolls_back() -> None:
    world = world_with({"1": GOOD, "2": GOOD})
    world.status = promoted("1")
    world.registry.aliases["production"] = "1"
    world.cluster.ready.add("1")
    world.live.latency_s = 0.25  # p95 far above 50 ms
    drive_to_verifying(world, "2")
    verify(world)
    assert world.phase() == PromotionPhase.ROLLED_BACK
    assert "live verification failed: gate latency_p95_ms failed" in world.message
    assert world.cluster.serving_version == "1"
    assert world.registry.aliases["production"] == "1"
    verified = world.status.condition(ConditionType.VERIFIED)
    assert verified is not None
    assert verified.status == "False"


def test_unreadable_live_metrics_count_as_errors_up_to_the_limit() -> None:
    world = world_with({"2": GOOD})
    drive_to_verifying(world, "2")
    world.live.broken = True
    verify(world, rounds=10)
    # No previous version: the workload is removed.
    assert world.phase() == PromotionPhase.ROLLED_BACK
    assert "live verification error" in world.message
    assert "no previous version to restore" in world.message
    assert world.cluster.removed[-1] == "Deployment"


def test_alias_mode_follows_the_alias_as_it_moves() -> None:
    world = world_with(
        {"1": GOOD, "2": GOOD}, model={"name": "churn-classifier", "alias": "challenger"}
    )
    run(world.tick())
    assert world.phase() == PromotionPhase.PENDING
    assert "alias churn-classifier@challenger is not set" in world.message
    world.registry.aliases["challenger"] = "1"
    run(world.tick(31))
    assert world.status.candidate_version == "1"
    world.cluster.ready.update({"1", "2"})
    run(world.tick(5))
    verify(world)
    assert world.phase() == PromotionPhase.PROMOTED
    world.registry.aliases["challenger"] = "2"
    run(world.tick(5))  # before the poll interval: not seen yet
    assert world.status.candidate_version == "1"
    run(world.tick(31))
    assert world.status.candidate_version == "2"


def test_reconcile_resumes_from_status_alone_after_a_restart() -> None:
    world = world_with({"1": GOOD, "2": GOOD})
    drive_to_verifying(world, "2")
    world.restart_operator()
    verify(world, rounds=8)
    assert world.phase() == PromotionPhase.PROMOTED


def test_promotion_waits_for_mlflow_to_record_it() -> None:
    world = world_with({"2": GOOD})
    drive_to_verifying(world, "2")
    world.registry.down = True
    verify(world)
    assert world.phase() == PromotionPhase.VERIFYING
    assert "waiting for MLflow to record the promotion" in world.message
    world.registry.down = False
    run(world.tick(60))
    assert world.phase() == PromotionPhase.PROMOTED
    assert world.registry.aliases["production"] == "2"


def test_unknown_version_fails_with_the_registry_message() -> None:
    world = world_with({})
    run(world.tick())
    assert world.phase() == PromotionPhase.FAILED
    assert "not found" in world.message


def test_a_new_version_mid_rollout_supersedes_the_old_attempt() -> None:
    world = world_with({"2": GOOD, "3": GOOD})
    run(world.tick())
    assert world.phase() == PromotionPhase.ROLLING_OUT
    world.spec["model"]["version"] = "3"
    world.generation = 2
    run(world.tick(1))
    assert world.status.candidate_version == "3"
    superseded = world.status.history[0]
    assert (superseded.version, superseded.outcome) == ("2", PromotionPhase.FAILED)
    assert "superseded by version 3" in superseded.reason


def test_history_is_bounded_newest_first() -> None:
    world = world_with({str(v): BAD for v in range(1, 15)})
    for version in range(1, 15):
        world.spec["model"]["version"] = str(version)
        run(world.tick(1))
    assert len(world.status.history) == 10
    assert world.status.history[0].version == "14"


def test_a_version_superseded_mid_verification_stops_serving_before_the_next_is_judged() -> None:
    """Version 2 is verifying when the spec moves to version 3, which fails its gates: the
    Deployment must not keep serving 2, which never passed verification."""
    world = world_with({"1": GOOD, "2": GOOD, "3": BAD})
    world.status = promoted("1")
    world.cluster.ready.add("1")
    drive_to_verifying(world, "2")
    assert world.cluster.serving_version == "2"
    world.spec["model"]["version"] = "3"
    world.generation = 2
    run(world.tick(1))
    assert world.phase() == PromotionPhase.REJECTED
    assert world.cluster.serving_version == "1"  # the last known-good version, restored
    assert world.status.serving == VersionRef(version="1")
    assert world.live.smoking is None  # version 2's smoke load stopped
    assert world.status.history[1].version == "2"
    assert "superseded by version 3" in world.status.history[1].reason
    assert "Superseded" in world.reasons()
    assert world.registry.aliases.get("production") is None  # nothing was promoted


def test_a_first_version_superseded_mid_rollout_leaves_no_workload_behind() -> None:
    world = world_with({"2": GOOD, "3": BAD})
    run(world.tick())
    assert world.phase() == PromotionPhase.ROLLING_OUT
    world.spec["model"]["version"] = "3"
    world.generation = 2
    run(world.tick(1))
    assert world.phase() == PromotionPhase.REJECTED
    assert world.cluster.serving_version is None  # removed: nothing ever passed here


def test_a_quiet_endpoint_after_a_restart_still_verifies() -> None:
    """No user traffic: only the smoke load makes data; a restart must bring it back."""
    world = world_with({"2": GOOD})
    drive_to_verifying(world, "2")
    run(world.tick(10))
    world.restart_operator()
    verify(world, rounds=8)
    assert world.phase() == PromotionPhase.PROMOTED, world.message
    assert world.live.smoke == ["start 2", "start 2", "stop"]


def deployment_replicas(world: World) -> int:
    deployments = [o for o in world.cluster.applied if o["kind"] == "Deployment"]
    return int(deployments[-1]["spec"]["replicas"])


def test_a_spec_edit_while_verifying_is_applied_to_the_candidate() -> None:
    world = world_with({"2": GOOD})
    drive_to_verifying(world, "2")
    world.spec["serving"]["replicas"] = 3
    world.generation = 2
    run(world.tick(1))
    assert deployment_replicas(world) == 3
    assert world.cluster.serving_version == "2"
    assert world.status.workload is not None
    assert world.status.workload.version == "2"
    verify(world)
    assert world.phase() == PromotionPhase.PROMOTED


def test_a_spec_edit_while_rejected_is_applied_to_the_serving_version() -> None:
    world = world_with({"1": GOOD, "2": BAD})
    world.spec["model"]["version"] = "1"
    drive_to_verifying(world, "1")
    verify(world)
    world.spec["model"]["version"] = "2"
    world.generation = 2
    run(world.tick(1))
    assert world.phase() == PromotionPhase.REJECTED
    applied = len(world.cluster.applied)
    world.spec["serving"]["image"] = "localhost/mlrollout-model-server:patched"
    world.generation = 3
    run(world.tick(1))
    assert len(world.cluster.applied) > applied, "the edit was dropped"
    deployment = [o for o in world.cluster.applied if o["kind"] == "Deployment"][-1]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"].endswith(":patched")
    assert world.cluster.serving_version == "1"
    assert world.status.observed_generation == 3
    applied = len(world.cluster.applied)
    run(world.tick(10))
    assert len(world.cluster.applied) == applied  # applied once, not every pass


def test_loosened_gates_on_a_rejected_version_are_checked_again() -> None:
    world = world_with({"2": BAD})
    run(world.tick())
    assert world.phase() == PromotionPhase.REJECTED
    world.spec["gates"] = [{"metric": "accuracy", "op": ">=", "threshold": 0.5}]
    world.generation = 2
    run(world.tick(1))
    assert world.phase() == PromotionPhase.ROLLING_OUT
    assert [h.outcome for h in world.status.history] == [PromotionPhase.REJECTED]
    world.spec["serving"]["replicas"] = 2  # not a gate: no new attempt
    world.generation = 3
    run(world.tick(1))
    assert world.status.candidate is not None
    assert len([e for e in world.reasons() if e == "PromotionStarted"]) == 2


def test_another_model_with_the_same_version_number_is_a_new_attempt() -> None:
    world = world_with({})
    run(world.tick())
    assert world.phase() == PromotionPhase.FAILED  # version 2 of churn-classifier: not found
    world.registry.versions["2"] = GOOD
    world.spec["model"] = {"name": "churn-classifier-v2", "version": "2"}
    world.generation = 2
    run(world.tick(1))
    assert world.phase() == PromotionPhase.ROLLING_OUT
    assert world.status.candidate is not None
    assert world.status.candidate.model == "churn-classifier-v2"


def test_a_rollback_leaves_an_alias_someone_else_moved_meanwhile() -> None:
    world = world_with({"1": GOOD, "2": GOOD, "9": GOOD})
    world.status = promoted("1")
    world.registry.aliases["production"] = "1"
    world.cluster.ready.add("1")
    world.live.latency_s = 0.25  # version 2 fails its online gate
    drive_to_verifying(world, "2")
    world.registry.aliases["production"] = "9"  # a manual promotion, while 2 is verified
    verify(world)
    assert world.phase() == PromotionPhase.ROLLED_BACK
    assert world.registry.aliases["production"] == "9"


def test_a_rollback_restores_the_alias_when_it_points_at_the_failed_version() -> None:
    """The spec follows the very alias it promotes: the alias moved to 2, and 2 failed."""
    world = world_with(
        {"1": GOOD, "2": GOOD}, model={"name": "churn-classifier", "alias": "production"}
    )
    world.status = promoted("1")
    world.cluster.ready.add("1")
    world.registry.aliases["production"] = "2"
    world.live.latency_s = 0.25
    drive_to_verifying(world, "2")
    verify(world)
    assert world.phase() == PromotionPhase.ROLLED_BACK
    assert world.registry.aliases["production"] == "1"


def test_a_second_promotion_of_the_same_model_and_alias_is_refused() -> None:
    first = world_with({"2": GOOD, "3": GOOD})
    run(first.tick())
    assert first.phase() == PromotionPhase.ROLLING_OUT
    second = World(base_spec(model={"name": "churn-classifier", "version": "3"}),
                   registry=first.registry, cluster=first.cluster, name="churn-b")  # fmt: skip
    run(second.tick())
    assert second.phase() == PromotionPhase.FAILED
    assert "alias production of churn-classifier is moved by ModelPromotion ml/churn" in (
        second.message
    )
    assert "AliasOwnedElsewhere" in second.reasons()
    assert first.cluster.serving_version == "2"  # the second one rolled nothing out
    first.cluster.promotions.discard(("ml", "churn"))  # the owner is deleted: its claim is stale
    second.spec["serving"]["replicas"] = 2  # any edit retries a failed attempt
    second.generation = 2
    run(second.tick(1))
    assert second.phase() == PromotionPhase.ROLLING_OUT


def test_the_disruption_budget_follows_the_replica_count() -> None:
    world = world_with({"2": GOOD})
    world.spec["serving"]["replicas"] = 2
    drive_to_verifying(world, "2")
    assert "PodDisruptionBudget" in {o["kind"] for o in world.cluster.applied}
    world.spec["serving"]["replicas"] = 1
    world.generation = 2
    run(world.tick(1))
    assert world.cluster.removed[-1] == "PodDisruptionBudget"
