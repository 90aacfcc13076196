"""The canary strategy: stable and canary Deployments behind one Service, the traffic split by
their numbers of ready pods (no service mesh: the Service balances over its endpoints).

At each step of `spec.rollout.canary.steps` below 100 the canary gets enough pods for that
share beside the stable side (whose replicas its HPA keeps choosing: the canary follows), and
verification judges the canary's pods. The 100% step rolls the candidate out in the main
Deployment (its HPA then scales the candidate), removes the canary, and verifies once more on
all the traffic. Failing at a step removes the canary: only its share ever met the candidate.
"""

from __future__ import annotations

from .events import Reason
from .promotion_pass import ReconcilePass
from .shadow import fewest_replicas
from .status import StrategyStatus


def canary_replicas(stable: int, weight: int) -> int:
    """Pods for ``weight`` percent of the endpoints beside ``stable`` pods (at least one):
    C / (stable + C) is as close to weight / 100 as whole pods allow."""
    exact = stable * weight / (100 - weight)
    return max(1, int(exact + 0.5))


def share(stable: int, canary: int) -> float:
    return 100.0 * canary / (stable + canary)


async def apply_step(run: ReconcilePass, index: int) -> str:
    """Enter step ``index`` (0-based); returns what the rollout is doing, for the message."""
    steps = run.spec.rollout.canary.steps
    weight = steps[index]
    strategy = run.status.strategy or StrategyStatus(name="canary")
    run.status.strategy = strategy
    strategy.step, strategy.steps, strategy.weight = index + 1, len(steps), weight
    where = f"canary step {index + 1}/{len(steps)}"
    if weight >= 100:
        strategy.stage = "switch"
        strategy.canary_replicas = None
        await run.apply_version(run.candidate)  # the canary's pods serve until it is ready
        champion = run.status.serving_version
        message = f"{where}: 100%: version {run.candidate} replaces version {champion}"
    else:
        stable = await _stable_replicas(run)
        await _scale(run, stable, weight)
        message = f"{where}: {_split(strategy)}"
    strategy.summary = message
    run.deps.events.info(Reason.CANARY_STEP, message)
    return message


async def follow_stable(run: ReconcilePass) -> None:
    """The HPA scaled the stable side during a step: the canary keeps the step's share."""
    strategy = run.status.strategy
    if strategy is None or strategy.stage != "candidate" or strategy.weight is None:
        return
    stable = await _stable_replicas(run)
    if stable != strategy.stable_replicas:
        await _scale(run, stable, strategy.weight)
        strategy.summary = f"canary step {strategy.step}/{strategy.steps}: {_split(strategy)}"


async def _scale(run: ReconcilePass, stable: int, weight: int) -> None:
    strategy = run.status.strategy
    assert strategy is not None
    canary = canary_replicas(stable, weight)
    await run.apply_side("canary", run.candidate, canary)
    strategy.canary_replicas, strategy.stable_replicas = canary, stable


def _split(strategy: StrategyStatus) -> str:
    stable, canary = strategy.stable_replicas or 0, strategy.canary_replicas or 0
    return (
        f"{strategy.weight}% asked: {canary} of {stable + canary} pods "
        f"({share(stable, canary):.0f}% of the Service's endpoints)"
    )


async def _stable_replicas(run: ReconcilePass) -> int:
    found = await run.deps.cluster.replicas(run.promotion.name, run.promotion.namespace)
    return found if found else fewest_replicas(run)
