"""Shadow and canary attempts, driven step by step against in-memory fakes."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from promotion_operator.canary import canary_replicas, share
from promotion_operator.spec import InvalidSpec, parse_spec
from promotion_operator.status import PromotionPhase

from .fakes import World, base_spec

GOOD = {"accuracy": 0.97, "latency_p95_ms": 4.0}
AGREEMENT_GATE = {"metric": "prediction_agreement", "op": ">=", "threshold": 0.95}
LATENCY_GATE = {"metric": "latency_p95_ms", "op": "<=", "threshold": 50}


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def world_serving_1(strategy: str, **rollout: Any) -> World:
    """Version 1 promoted (by replace: nothing served before it), then version 2 asked for."""
    gates = [LATENCY_GATE, *([AGREEMENT_GATE] if strategy == "shadow" else [])]
    verification = {"durationSeconds": 20, "intervalSeconds": 10, "gates": gates}
    spec = base_spec(
        model={"name": "churn-classifier", "version": "1"},
        rollout={"progressDeadlineSeconds": 60, "strategy": strategy,
                 "verification": verification, **rollout},
    )  # fmt: skip
    world = World(spec)
    world.registry.versions.update({"1": GOOD, "2": GOOD})
    world.cluster.ready.update({"1", "2"})
    world.live.background = True
    until_concluded(world)
    assert world.phase() == PromotionPhase.PROMOTED, world.message
    assert world.status.strategy is not None
    assert world.status.strategy.name == "replace"
    assert "none serves yet" in world.status.strategy.summary
    world.spec["model"] = {"name": "churn-classifier", "version": "2"}
    world.generation += 1
    world.events.posted.clear()
    return world


def until_concluded(world: World, passes: int = 40) -> list[PromotionPhase]:
    phases = []
    for _ in range(passes):
        run(world.tick(5))
        phases.append(world.phase())
        if world.status.concluded and world.status.candidate_version == world.spec["model"].get(
            "version"
        ):
            break
    return phases


def main_versions(world: World) -> list[str]:
    """Each version the main Deployment was applied with, in order."""
    return [
        o["spec"]["template"]["metadata"]["labels"]["mlrollout.dev/model-version"]
        for o in world.cluster.applied
        if o["kind"] == "Deployment" and o["metadata"]["name"] == world.name
    ]


def test_a_shadow_that_agrees_is_switched_in_and_removed() -> None:
    world = world_serving_1("shadow")
    world.live.agreement["2"] = 0.99
    world.cluster.ready.discard("2")
    run(world.tick(5))
    assert world.phase() == PromotionPhase.ROLLING_OUT
    run(world.tick(5))
    assert world.message == "rolling out version 2 as a shadow: 0/1 ready"
    world.cluster.ready.add("2")
    assert world.cluster.version_of("churn-shadow") == "2"
    assert ("Service", "churn-shadow") in world.cluster.objects
    assert world.cluster.serving_version == "1"  # the champion is untouched
    until_concluded(world)
    assert world.phase() == PromotionPhase.PROMOTED, world.message
    assert main_versions(world)[-1] == "2"
    assert "2" not in main_versions(world)[:-1]  # switched once, after the shadow passed
    assert ("Deployment", "churn-shadow") not in world.cluster.objects
    assert ("Service", "churn-shadow") not in world.cluster.objects
    assert world.live.smoke[-2:] == ["start 1", "stop"]  # the load went through the champion
    strategy = world.status.strategy
    assert strategy is not None
    assert strategy.agreement == pytest.approx(0.99)
    assert (strategy.mirrored or 0) > 0
    assert strategy.dropped == 0
    assert world.registry.aliases["production"] == "2"
    assert world.reasons() == ["PromotionStarted", "Shadowing", "RollingOut", "Switching",
                               "Promoted"]  # fmt: skip


def test_a_shadow_that_disagrees_is_removed_and_the_champion_never_changed() -> None:
    world = world_serving_1("shadow")
    applied_before = len(main_versions(world))
    world.live.agreement["2"] = 0.5
    until_concluded(world)
    assert world.phase() == PromotionPhase.ROLLED_BACK, world.message
    assert "gate prediction_agreement failed: 0.5 < 0.95" in world.message
    assert "agreed on 200 of 400 rows" in world.message
    assert "2" not in main_versions(world)
    assert len(main_versions(world)) <= applied_before + 1  # rollback re-applies 1, unchanged
    assert world.cluster.serving_version == "1"
    assert ("Deployment", "churn-shadow") not in world.cluster.objects
    assert world.registry.aliases["production"] == "1"
    agreement = next(g for g in world.status.gates if g.metric == "prediction_agreement")
    assert agreement.value == pytest.approx(0.5)


def test_a_canary_walks_its_steps_then_takes_over_the_main_deployment() -> None:
    world = world_serving_1("canary", canary={"steps": [25, 100]})
    world.cluster.stable_replicas = 3
    world.cluster.ready.discard("2")
    run(world.tick(5))
    assert world.phase() == PromotionPhase.ROLLING_OUT
    run(world.tick(5))
    assert world.message == "rolling out version 2 as a canary (step 1/2, 25%): 0/1 ready"
    world.cluster.ready.add("2")
    assert world.cluster.side_replicas("churn-canary") == 1  # 1 of 4 pods: 25%
    strategy = world.status.strategy
    assert strategy is not None
    assert (strategy.step, strategy.steps, strategy.weight) == (1, 2, 25)
    assert "1 of 4 pods (25% of the Service's endpoints)" in strategy.summary
    run(world.tick(5))
    assert world.phase() == PromotionPhase.VERIFYING
    assert world.cluster.serving_version == "1"
    until_concluded(world)
    assert world.phase() == PromotionPhase.PROMOTED, world.message
    assert main_versions(world)[-1] == "2"
    assert ("Deployment", "churn-canary") not in world.cluster.objects
    assert world.reasons().count("CanaryStep") == 2


def test_a_canary_failing_its_first_step_is_scaled_away() -> None:
    world = world_serving_1("canary", canary={"steps": [25, 50, 100]})
    world.cluster.stable_replicas = 3
    world.live.latency_s = 0.25  # p95 far above 50 ms
    until_concluded(world)
    assert world.phase() == PromotionPhase.ROLLED_BACK, world.message
    assert "latency_p95_ms" in world.message
    assert "2" not in main_versions(world)
    assert ("Deployment", "churn-canary") not in world.cluster.objects
    assert "Deployment/churn-canary" in world.cluster.removed
    assert world.status.strategy is not None
    assert world.status.strategy.step == 1


def test_the_canary_follows_the_stable_side_when_its_hpa_scales() -> None:
    world = world_serving_1("canary", canary={"steps": [50, 100]})
    world.cluster.stable_replicas = 2
    run(world.tick(5))
    assert world.phase() == PromotionPhase.VERIFYING
    assert world.cluster.side_replicas("churn-canary") == 2
    world.cluster.stable_replicas = 5
    run(world.tick(5))
    assert world.cluster.side_replicas("churn-canary") == 5
    assert world.status.strategy is not None
    assert world.status.strategy.stable_replicas == 5


def test_a_superseded_shadow_is_removed() -> None:
    world = world_serving_1("shadow")
    world.live.agreement["2"] = 0.99
    world.registry.versions["3"] = GOOD
    run(world.tick(5))
    assert world.cluster.version_of("churn-shadow") == "2"
    world.spec["model"] = {"name": "churn-classifier", "version": "3"}
    run(world.tick(5))
    assert world.status.history[0].reason == "superseded by version 3"
    assert world.cluster.version_of("churn-shadow") == "3"  # the new attempt's own shadow
    assert "Deployment/churn-shadow" in world.cluster.removed


@pytest.mark.parametrize(
    ("stable", "weight", "canary"), [(3, 25, 1), (4, 20, 1), (2, 50, 2), (1, 10, 1), (9, 50, 9)]
)
def test_canary_replicas_give_the_closest_share(stable: int, weight: int, canary: int) -> None:
    assert canary_replicas(stable, weight) == canary
    assert abs(share(stable, canary) - weight) <= 100 / (stable + canary)


@pytest.mark.parametrize("steps", [[50, 20, 100], [20, 50], [0, 100], [20, 20, 100]])
def test_canary_steps_must_increase_to_100(steps: list[int]) -> None:
    with pytest.raises(InvalidSpec, match="steps must increase and end at 100"):
        parse_spec(base_spec(rollout={"strategy": "canary", "canary": {"steps": steps}}))
