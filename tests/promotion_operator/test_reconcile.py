"""The promotion state machine, driven step by step against in-memory fakes."""

from __future__ import annotations

import asyncio
from typing import Any

from .fakes import World, base_spec

GOOD = {"accuracy": 0.97, "latency_p95_ms": 4.0}
BAD = {"accuracy": 0.55, "latency_p95_ms": 4.0}


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def world_with(versions: dict[str, dict[str, float]], **spec: Any) -> World:
    world = World(base_spec(**spec))
    world.registry.versions.update(versions)
    return world


def drive_to_verifying(world: World, version: str) -> None:
    run(world.tick())
    assert world.phase == "RollingOut", world.status["message"]
    world.cluster.ready.add(version)
    run(world.tick(5))
    assert world.phase == "Verifying", world.status["message"]


def verify(world: World, rounds: int = 5) -> None:
    for _ in range(rounds):
        run(world.tick(10))
        if world.phase != "Verifying":
            return


def test_a_good_version_is_rolled_out_verified_and_promoted() -> None:
    world = world_with({"2": GOOD})
    drive_to_verifying(world, "2")
    assert world.cluster.serving_version == "2"
    assert world.live.smoke == ["start 2"]
    verify(world)
    assert world.phase == "Promoted", world.status["message"]
    assert world.registry.aliases["production"] == "2"
    assert world.registry.tags["2"]["mlrollout.dev/outcome"] == "promoted"
    assert world.status["serving"] == {"version": "2"}
    assert world.status["lastKnownGood"] == {"version": "2"}
    assert world.status["history"][0]["outcome"] == "Promoted"
    assert [g["phase"] for g in world.status["gates"]] == ["Successful"] * 4
    assert world.live.smoke[-1] == "stop"
    assert world.reasons() == ["PromotionStarted", "RollingOut", "Promoted"]
    conditions = {c["type"]: c["status"] for c in world.status["conditions"]}
    assert conditions["GatesPassed"] == "True"
    assert conditions["Verified"] == "True"
    assert conditions["Available"] == "True"


def test_a_failing_offline_gate_rejects_without_touching_the_cluster() -> None:
    world = world_with({"2": BAD})
    run(world.tick())
    assert world.phase == "Rejected"
    assert world.status["message"] == "gate accuracy failed: 0.55 < 0.9 (run run-2)"
    assert world.cluster.applied == []
    assert world.registry.tags["2"]["mlrollout.dev/outcome"] == "rejected"
    assert ("Warning", "Rejected") in [(t, r) for t, r, _ in world.events]
    run(world.tick(60))  # concluded: nothing more happens for the same version
    assert world.cluster.applied == []


def test_mlflow_outage_is_retried_with_backoff_and_never_rolls_out() -> None:
    world = world_with({"2": GOOD})
    world.registry.down = True
    run(world.tick())
    assert world.phase == "Evaluating"
    assert "MLflow unreachable, nothing rolled out" in world.status["message"]
    assert {g["phase"] for g in world.status["gates"]} == {"Error"}
    assert world.status["retry"]["attempt"] == 1
    run(world.tick(1))  # inside the back-off window: nothing is tried
    assert world.status["retry"]["attempt"] == 1
    run(world.tick(5))
    assert world.status["retry"]["attempt"] == 2  # waited 5 s, now 10 s
    assert world.cluster.applied == []
    world.registry.down = False
    run(world.tick(11))
    assert world.phase == "RollingOut"
    assert "retry" not in world.status


def test_a_version_that_never_gets_ready_rolls_back_to_the_last_known_good() -> None:
    world = world_with({"1": GOOD, "2": GOOD})
    world.spec["model"]["version"] = "1"
    drive_to_verifying(world, "1")
    verify(world)
    assert world.phase == "Promoted"
    world.spec["model"]["version"] = "2"
    world.generation = 2
    run(world.tick())
    assert world.phase == "RollingOut"
    assert world.cluster.serving_version == "2"
    run(world.tick(30))
    assert world.phase == "RollingOut"  # still inside the 60 s deadline
    world.cluster.ready.discard("1")  # the restored pods take a moment to be ready again
    run(world.tick(31))
    assert world.phase == "RollingBack"
    assert world.cluster.serving_version == "1"
    run(world.tick(5))
    assert world.phase == "RollingBack"
    world.cluster.ready.add("1")
    run(world.tick(5))
    assert world.phase == "RolledBack"
    assert "no ready pods within 60s" in world.status["message"]
    assert world.status["serving"] == {"version": "1"}
    assert world.status["candidate"]["version"] == "2"
    assert world.registry.aliases["production"] == "1"
    assert world.registry.tags["2"]["mlrollout.dev/outcome"] == "rolled-back"


def test_a_model_that_fails_to_load_rolls_back_at_once() -> None:
    world = world_with({"1": GOOD, "2": GOOD})
    world.status = {
        "phase": "Promoted",
        "candidate": {"version": "1"},
        "serving": {"version": "1"},
        "lastKnownGood": {"version": "1"},
    }
    world.cluster.ready.add("1")
    world.cluster.failing["2"] = "pod churn-x: model failed to load: cannot download"
    run(world.tick())  # rolled out, found broken and rolled back in one pass: v1 never left
    assert world.phase == "RolledBack"
    assert "model failed to load" in world.status["message"]
    assert world.cluster.serving_version == "1"
    assert world.reasons() == ["PromotionStarted", "RollingOut", "RollingBack", "RolledBack"]


def test_a_failing_online_gate_rolls_back() -> None:
    world = world_with({"1": GOOD, "2": GOOD})
    world.status = {"candidate": {"version": "1"}, "phase": "Promoted",
                    "serving": {"version": "1"}, "lastKnownGood": {"version": "1"}}  # fmt: skip
    world.cluster.ready.add("1")
    world.live.latency_s = 0.25  # p95 far above 50 ms
    drive_to_verifying(world, "2")
    verify(world)
    assert world.phase == "RolledBack"
    assert "live verification failed: gate latency_p95_ms failed" in world.status["message"]
    assert world.cluster.serving_version == "1"
    assert world.registry.aliases["production"] == "1"
    verified = next(c for c in world.status["conditions"] if c["type"] == "Verified")
    assert verified["status"] == "False"


def test_unreadable_live_metrics_count_as_errors_up_to_the_limit() -> None:
    world = world_with({"2": GOOD})
    drive_to_verifying(world, "2")
    world.live.broken = True
    verify(world, rounds=10)
    assert world.phase == "RolledBack"  # no previous version: the workload is removed
    assert "live verification error" in world.status["message"]
    assert "no previous version to restore" in world.status["message"]
    assert world.cluster.removed[-1] == "Deployment"


def test_alias_mode_follows_the_alias_as_it_moves() -> None:
    world = world_with(
        {"1": GOOD, "2": GOOD}, model={"name": "churn-classifier", "alias": "challenger"}
    )
    run(world.tick())
    assert world.phase == "Pending"
    assert "alias churn-classifier@challenger is not set" in world.status["message"]
    world.registry.aliases["challenger"] = "1"
    run(world.tick(31))
    assert world.status["candidate"]["version"] == "1"
    world.cluster.ready.update({"1", "2"})
    run(world.tick(5))
    verify(world)
    assert world.phase == "Promoted"
    world.registry.aliases["challenger"] = "2"
    run(world.tick(5))  # before the poll interval: not seen yet
    assert world.status["candidate"]["version"] == "1"
    run(world.tick(31))
    assert world.status["candidate"]["version"] == "2"


def test_reconcile_resumes_from_status_alone_after_a_restart() -> None:
    world = world_with({"1": GOOD, "2": GOOD})
    drive_to_verifying(world, "2")
    world.scratch.clear()  # a new operator process: no memory, only the status
    verify(world, rounds=8)
    assert world.phase == "Promoted"


def test_promotion_waits_for_mlflow_to_record_it() -> None:
    world = world_with({"2": GOOD})
    drive_to_verifying(world, "2")
    world.registry.down = True
    verify(world)
    assert world.phase == "Verifying"
    assert "waiting for MLflow to record the promotion" in world.status["message"]
    world.registry.down = False
    run(world.tick(60))
    assert world.phase == "Promoted"
    assert world.registry.aliases["production"] == "2"


def test_unknown_version_fails_with_the_registry_message() -> None:
    world = world_with({})
    run(world.tick())
    assert world.phase == "Failed"
    assert "not found" in world.status["message"]


def test_a_new_version_mid_rollout_supersedes_the_old_attempt() -> None:
    world = world_with({"2": GOOD, "3": GOOD})
    run(world.tick())
    assert world.phase == "RollingOut"
    world.spec["model"]["version"] = "3"
    world.generation = 2
    run(world.tick(1))
    assert world.status["candidate"]["version"] == "3"
    assert world.status["history"][0] == {**world.status["history"][0], "version": "2",
                                          "outcome": "Failed"}  # fmt: skip
    assert "superseded by version 3" in world.status["history"][0]["reason"]


def test_history_is_bounded_newest_first() -> None:
    world = world_with({str(v): BAD for v in range(1, 15)})
    for version in range(1, 15):
        world.spec["model"]["version"] = str(version)
        run(world.tick(1))
    assert len(world.status["history"]) == 10
    assert world.status["history"][0]["version"] == "14"
