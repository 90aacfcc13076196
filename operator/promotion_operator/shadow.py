"""The shadow strategy: the candidate runs beside the champion, outside the Service, and the
champion's pods mirror a share of the live requests to it (asynchronously: a user's request
never waits for, or fails with, the shadow). The shadow compares its answers with the
champion's on the same rows; verification judges its latency and errors on that traffic and
`prediction_agreement`. Passing switches the main Deployment to the candidate (a rolling
update) and removes the shadow; failing removes the shadow, and the champion never noticed.
"""

from __future__ import annotations

import logging

from .agreement import comparison, mirror_outcomes
from .events import Reason
from .manifests import deployment_name
from .promotion_pass import ReconcilePass
from .status import StrategyStatus

log = logging.getLogger(__name__)


def fewest_replicas(run: ReconcilePass) -> int:
    """The shadow's pods: as many as the champion has at its fewest (it gets its traffic)."""
    scaling = run.spec.serving.autoscaling
    return max(1, scaling.min_replicas if scaling is not None else run.spec.serving.replicas)


async def start(run: ReconcilePass) -> str:
    """Start the shadow; returns what the rollout is doing, for the status message."""
    share, champion = run.spec.rollout.shadow.mirror_percent, run.status.serving_version
    replicas = fewest_replicas(run)
    before = await _champion_outcomes(run)
    await run.apply_side("shadow", run.candidate, replicas)
    message = (
        f"shadow: version {run.candidate} starts beside version {champion} "
        f"({deployment_name(run.promotion.name, 'shadow')}, {replicas} pod(s)); "
        f"{share:g}% of its requests will be mirrored to it"
    )
    run.status.strategy = StrategyStatus(
        name="shadow", mirror_percent=share, summary=message,
        mirror_outcomes_at_start={k: int(v) for k, v in (before or {}).items()},
    )  # fmt: skip
    run.deps.events.info(Reason.SHADOWING, message)
    return message


async def observe(run: ReconcilePass) -> None:
    """Mirrored, dropped and agreement so far, into the status (from the shadow's last sample
    and the champion's pods, whose counters are cumulative: counted from the shadow's start)."""
    strategy = run.status.strategy
    last = run.deps.scratch.window.last
    if strategy is None or last is None:
        return
    seen = comparison(last)
    strategy.compared_rows = int(seen.rows)
    strategy.agreement = round(seen.agreement, 4) if seen.agreement is not None else None
    outcomes = await _champion_outcomes(run)
    if outcomes is not None:
        start = strategy.mirror_outcomes_at_start or {}
        since = {k: max(0, int(v) - start.get(k, 0)) for k, v in outcomes.items()}
        strategy.mirrored = since.get("sent", 0)
        strategy.dropped = since.get("dropped", 0)
        strategy.mirror_failed = since.get("failed", 0)
    agreement = f"{strategy.agreement:.3f}" if strategy.agreement is not None else "n/a"
    strategy.summary = (
        f"shadow {strategy.mirror_percent:g}%: {strategy.mirrored or 0} mirrored, "
        f"{strategy.dropped or 0} dropped, {strategy.mirror_failed or 0} failed; "
        f"agreement {agreement} on {strategy.compared_rows} rows"
    )


async def _champion_outcomes(run: ReconcilePass) -> dict[str, float] | None:
    champion = run.status.serving_version
    if champion is None:
        return None
    try:
        sample = await run.deps.live.sample(run.promotion.name, run.promotion.namespace, champion)
    except Exception as exc:  # the counts are for the status only: never a reason to stop
        log.info("cannot read the champion's mirror counters", extra={"error": str(exc)})
        return None
    return mirror_outcomes(sample)


async def switch(run: ReconcilePass) -> str:
    """The shadow passed: remove it, and roll the candidate out in the main Deployment."""
    await run.remove_sides()
    await run.apply_version(run.candidate)
    strategy = run.status.strategy
    champion = run.status.serving_version
    message = f"shadow passed: version {run.candidate} replaces version {champion}"
    if strategy is not None:
        strategy.stage = "switch"
        strategy.summary = f"{message}; {strategy.summary}"
    run.deps.events.info(Reason.SWITCHING, message)
    return message
