"""Rolling back: re-apply the last known-good version, wait for it, restore the alias.

With no known-good version (nothing ever passed here) the broken workload is removed rather
than left half-up. Each step returns early while it waits, like the steps in `reconcile.py`.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta

from .events import Reason
from .promotion_pass import ReconcilePass
from .registry import NotFound, RegistryUnavailable
from .status import ConditionType, PromotionPhase, RollbackProgress, VersionRef


async def start_rollback(
    run: ReconcilePass,
    reason: str,
    *,
    action: str | None = None,
    requested_by: str | None = None,
    replaced: str | None = None,
) -> None:
    """Restore the last known-good version. ``action`` and ``requested_by`` name a person's
    request that asked for it (abort, undo); ``replaced`` is the serving version an undo
    takes away (its alias and tag are restored and written as a candidate's would be)."""
    run.deps.live.stop_smoke_load(run.promotion.name, run.promotion.namespace)
    await run.remove_sides()  # a shadow or canary: the champion's side never changed
    good = run.status.last_known_good_version
    run.status.rollback = RollbackProgress(
        reason=reason, started_at=run.now, action=action, requested_by=requested_by,
        replaced=replaced,
    )  # fmt: skip
    run.condition(ConditionType.PROGRESSING, False, "RollingBack", reason)
    run.deps.events.warn(Reason.ROLLING_BACK, reason)
    if good is None:
        # Nothing ever passed here: remove the broken workload rather than keep it half-up.
        await run.remove_workload()
        await finish_rollback(run, reason + "; no previous version to restore")
        return
    await run.apply_version(good)
    run.enter(PromotionPhase.ROLLING_BACK, f"{reason}; restoring version {good}")


async def watch_rollback(run: ReconcilePass) -> None:
    good = run.status.last_known_good_version
    rollback = run.status.rollback
    reason = rollback.reason if rollback else ""
    if good is None:
        await finish_rollback(run, reason)
        return
    name, namespace = run.promotion.name, run.promotion.namespace
    state = await run.deps.cluster.rollout_state(name, namespace, good)
    started = rollback.started_at if rollback else run.now
    limit = timedelta(seconds=run.spec.rollout.progress_deadline_seconds)
    if state.failed is not None or (not state.ready and run.now - started > limit):
        message = f"{reason}; and restoring version {good} failed: {state.failed or state.detail}"
        run.conclude(PromotionPhase.FAILED, message)
        run.enter(PromotionPhase.FAILED, message)
        run.deps.events.warn(Reason.ROLLBACK_FAILED, message)
        return
    if not state.ready:
        run.status.message = f"{reason}; restoring version {good}: {state.detail}"
        return
    try:
        await _restore_alias(run, good)
    except RegistryUnavailable as exc:
        run.backoff(f"version {good} restored; waiting for MLflow to restore the alias: {exc}")
        return
    await finish_rollback(run, reason)


async def _restore_alias(run: ReconcilePass, good: str) -> None:
    """Point the alias back at ``good`` only if it points at the failed candidate: an alias
    someone moved elsewhere meanwhile (a manual promotion) is theirs, and stays."""
    registry, model, alias = run.deps.registry, run.spec.model.name, run.spec.promotion.alias
    taken_back = {run.status.candidate_version, _replaced(run)} - {None}
    with contextlib.suppress(NotFound):  # no alias (or no model) left to restore
        current = (await registry.version_for_alias(model, alias)).version
        if current in taken_back:
            await registry.set_alias(model, alias, good)


def _replaced(run: ReconcilePass) -> str | None:
    return run.status.rollback.replaced if run.status.rollback else None


async def finish_rollback(run: ReconcilePass, reason: str) -> None:
    run.clear_backoff()
    good = run.status.last_known_good_version
    failed = _replaced(run) or run.status.candidate_version
    run.status.serving = VersionRef(version=good)
    if failed is not None and failed != good:
        await run.tag(failed, {"outcome": "rolled-back", "reason": reason})
    run.condition(ConditionType.ROLLED_BACK, True, "RolledBack", reason)
    serving = f"serving {good or 'nothing'}"
    run.condition(ConditionType.AVAILABLE, good is not None, "RolledBack", serving)
    rollback = run.status.rollback
    by = rollback.requested_by if rollback else None
    action = rollback.action if rollback else None
    run.conclude(PromotionPhase.ROLLED_BACK, reason, action, by, version=_replaced(run))
    run.enter(PromotionPhase.ROLLED_BACK, reason)
    run.deps.events.warn(Reason.ROLLED_BACK, reason)
