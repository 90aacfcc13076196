"""The driver: one loop per resource, one status write per pass, and what happens when the API
refuses a write or a child object (in-memory fakes; tests/e2e runs the real thing)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from promotion_operator.driver import Promotions, ResourceMemory
from promotion_operator.promotion_pass import Deps
from promotion_operator.spec import ModelPromotionSpec
from promotion_operator.status import PromotionPhase, read_status

from .fakes import World, base_spec

GOOD = {"accuracy": 0.97, "latency_p95_ms": 4.0}


class Writer:
    """Status writes as the API server would apply them (a merge patch); can refuse some."""

    def __init__(self) -> None:
        self.stored: dict[str, Any] = {}
        self.patches: list[dict[str, Any]] = []
        self.refuse = 0  # how many of the next writes fail

    async def write_status(self, namespace: str, name: str, changes: dict[str, Any]) -> None:
        if self.refuse:
            self.refuse -= 1
            raise ApiException(status=500, reason="Internal Server Error")
        self.patches.append(changes)
        for key, value in changes.items():
            if value is None:
                self.stored.pop(key, None)
            else:
                self.stored[key] = value


def body(spec: dict[str, Any], generation: int = 1) -> dict[str, Any]:
    metadata = {"name": "churn", "namespace": "ml", "generation": generation}
    return {"apiVersion": "mlrollout.dev/v1alpha1", "kind": "ModelPromotion",
            "metadata": metadata, "spec": spec}  # fmt: skip


def driver(
    world: World, writer: Writer, interval_s: float = 60, passes: list[str] | None = None
) -> Promotions:
    async def deps_for(memory: ResourceMemory, spec: ModelPromotionSpec) -> Deps:
        if passes is not None:
            passes.append(memory.name)
        return world.deps()

    return Promotions(interval_s=interval_s, writer=writer, deps_for=deps_for)


def test_a_refused_status_write_is_sent_again_on_the_next_pass() -> None:
    world = World(base_spec())
    world.registry.versions["2"] = GOOD
    writer = Writer()
    memory = ResourceMemory(body(world.spec))
    promotions = driver(world, writer)
    writer.refuse = 1
    asyncio.run(promotions.reconcile_once(memory))
    assert writer.stored == {}
    assert memory.written is None  # nothing is believed written
    asyncio.run(promotions.reconcile_once(memory))
    status = read_status({"status": writer.stored})
    assert status.current_phase is PromotionPhase.ROLLING_OUT  # the first pass' work, landed
    assert status.candidate_version == "2"
    assert status.observed_generation == 1


def test_an_api_error_reaches_the_status_and_the_pass_is_retried() -> None:
    world = World(base_spec())
    world.registry.versions["2"] = GOOD
    refusal = ApiException(status=422, reason="Unprocessable Entity")
    refusal.body = '{"message": "Service \\"churn\\" is invalid: metadata.name: Invalid value"}'

    async def refuse(objects: list[dict[str, Any]]) -> None:
        raise refusal

    world.cluster.apply = refuse  # type: ignore[method-assign]
    writer = Writer()
    delay = asyncio.run(driver(world, writer).reconcile_once(ResourceMemory(body(world.spec))))
    assert delay == 10
    message = writer.stored["message"]
    assert message.startswith("Kubernetes API: 422 Unprocessable Entity: Service")
    assert "metadata.name: Invalid value" in message
    assert message.endswith("retrying in 10s")
    assert "observedGeneration" not in writer.stored


def test_an_unusable_spec_is_reported_once_and_waits_for_a_new_one() -> None:
    world = World(base_spec())
    spec = base_spec()
    spec["gates"] = [{"metric": "accuracy", "op": ">="}]  # neither threshold nor baseline
    writer = Writer()
    memory = ResourceMemory(body(spec))
    promotions = driver(world, writer)
    assert asyncio.run(promotions.reconcile_once(memory)) is None  # until the spec changes
    assert writer.stored["phase"] == "Failed"
    assert "exactly one of threshold or baseline" in writer.stored["message"]
    asyncio.run(promotions.reconcile_once(memory))
    assert len(writer.patches) == 1


def test_each_resource_loops_until_deleted_and_a_spec_change_wakes_it() -> None:
    world = World(base_spec())
    world.registry.versions.update({"2": GOOD, "3": GOOD})
    writer = Writer()

    async def scenario() -> None:
        promotions = driver(world, writer, interval_s=3600)  # only events wake it here
        promotions.seen(None, body(world.spec))
        await asyncio.sleep(0.05)
        assert read_status({"status": writer.stored}).candidate_version == "2"
        spec = {**world.spec, "model": {"name": "churn-classifier", "version": "3"}}
        world.spec = spec
        promotions.seen("MODIFIED", body(spec, generation=2))
        await asyncio.sleep(0.05)
        assert read_status({"status": writer.stored}).candidate_version == "3"
        writes = len(writer.patches)
        promotions.seen("MODIFIED", body(spec, generation=2))  # e.g. our own status write
        await asyncio.sleep(0.05)
        assert len(writer.patches) == writes  # same generation: no extra pass
        promotions.seen("DELETED", body(spec, generation=2))
        await asyncio.sleep(0.05)
        await promotions.stop()

    asyncio.run(scenario())


@pytest.mark.parametrize("broken", ["deps", "reconcile"])
def test_a_crash_in_one_pass_keeps_the_loop_alive(broken: str) -> None:
    world = World(base_spec())
    world.registry.versions["2"] = GOOD

    async def deps_for(memory: ResourceMemory, spec: ModelPromotionSpec) -> Deps:
        if broken == "deps":
            raise RuntimeError("boom")
        deps = world.deps()

        def clock_broken() -> Any:
            raise RuntimeError("boom")

        deps.now = clock_broken
        return deps

    promotions = Promotions(interval_s=7, writer=Writer(), deps_for=deps_for)
    assert asyncio.run(promotions.reconcile_once(ResourceMemory(body(world.spec)))) == 7


def test_an_unreachable_api_server_is_retried_without_a_write() -> None:
    from urllib3.exceptions import NewConnectionError

    world = World(base_spec())
    world.registry.versions["2"] = GOOD

    async def unreachable(objects: list[dict[str, Any]]) -> None:
        raise NewConnectionError(None, "Failed to establish a new connection: refused")  # type: ignore[arg-type]

    world.cluster.apply = unreachable  # type: ignore[method-assign]
    writer = Writer()
    delay = asyncio.run(driver(world, writer).reconcile_once(ResourceMemory(body(world.spec))))
    assert delay == 10
    assert writer.patches == []


def test_credentials_for_a_disallowed_host_are_never_read_and_the_status_says_why() -> None:
    from promotion_operator.credentials import CredentialsRefused

    world = World(base_spec())

    async def refuse(memory: ResourceMemory, spec: ModelPromotionSpec) -> Deps:
        raise CredentialsRefused("spec.mlflow.trackingUri host 'x' is not one ...")

    writer = Writer()
    promotions = Promotions(interval_s=5, writer=writer, deps_for=refuse)
    assert asyncio.run(promotions.reconcile_once(ResourceMemory(body(world.spec)))) is None
    assert writer.stored["phase"] == "Failed"
    assert "spec.mlflow.trackingUri host" in writer.stored["message"]


def test_a_rollout_is_followed_as_its_deployment_changes_not_at_the_interval() -> None:
    world = World(base_spec())
    world.registry.versions["2"] = GOOD
    writer = Writer()

    passes: list[str] = []

    async def scenario() -> None:
        promotions = driver(world, writer, interval_s=3600, passes=passes)  # only events wake
        promotions.seen(None, body(world.spec))
        await asyncio.sleep(0.05)
        assert read_status({"status": writer.stored}).current_phase is PromotionPhase.ROLLING_OUT
        world.cluster.ready.add("2")
        promotions.workload_changed("ml", "someone-else")  # not ours: nothing happens
        await asyncio.sleep(0.05)
        assert read_status({"status": writer.stored}).current_phase is PromotionPhase.ROLLING_OUT
        promotions.workload_changed("ml", "churn")
        await asyncio.sleep(0.05)
        status = read_status({"status": writer.stored})
        assert status.current_phase is not PromotionPhase.ROLLING_OUT  # the pass saw it ready
        assert status.current_phase is PromotionPhase.VERIFYING
        seen = len(passes)
        promotions.workload_changed("ml", "churn")  # verifying runs at its interval: ignored
        await asyncio.sleep(0.05)
        assert len(passes) == seen
        await promotions.stop()

    asyncio.run(scenario())


def test_a_deployment_that_gets_ready_during_the_pass_that_made_it_is_seen_at_once() -> None:
    """Its last change arrives while the phase is not yet written: the loop looks once more."""
    world = World(base_spec())
    world.registry.versions["2"] = GOOD
    writer = Writer()
    promotions = driver(world, writer, interval_s=3600)  # only events wake it here
    read_state = world.cluster.rollout_state

    async def ready_right_after_the_read(*args: Any, **kwargs: Any) -> Any:
        state = await read_state(*args, **kwargs)
        if "2" not in world.cluster.ready:  # the pod becomes ready just after it was looked at
            world.cluster.ready.add("2")
            promotions.workload_changed("ml", "churn")
        return state

    world.cluster.rollout_state = ready_right_after_the_read  # type: ignore[method-assign]

    async def scenario() -> None:
        promotions.seen(None, body(world.spec))
        await asyncio.sleep(0.1)
        assert read_status({"status": writer.stored}).current_phase is PromotionPhase.VERIFYING
        await promotions.stop()

    asyncio.run(scenario())
