"""The operator SIGKILLed in each phase of a promotion and started again (as a node failure
would): the same verdict as without the kill, one history entry per attempt, one alias move,
and a client polling the Service throughout sees no failed request."""

from __future__ import annotations

import time

from mlrollout.testbed.traffic import Poller
from promotion_operator.events import Reason
from promotion_operator.status import PromotionPhase, PromotionStatus

from .cluster import wait_for
from .faults import (
    ROWS,
    history,
    kill_and_restart,
    promote_good,
    reasons,
    record,
    spec_for,
    start_verifying,
)
from .mlflow_models import HostMlflow
from .target import Target

PROMOTED = PromotionPhase.PROMOTED


def test_killed_while_evaluating_with_mlflow_down_rolls_out_nothing_until_it_is_back(
    target: Target, host_mlflow: HostMlflow, images: dict[str, str], model: str
) -> None:
    good = promote_good(target, host_mlflow, images, model)
    candidate = host_mlflow.register(model, "random_forest")
    with Poller(target.url(), ROWS) as poller:
        host_mlflow.stop()
        try:
            target.apply(spec_for(host_mlflow, images, model, candidate, replicas=2))

            def held() -> PromotionStatus | None:
                status = target.status()
                unreachable = "MLflow unreachable" in (status.message or "")
                return status if unreachable and status.candidate_version == candidate else None

            status = wait_for("the gates to wait for MLflow", held, 90, target.operator.log_tail)
            assert status.phase is PromotionPhase.EVALUATING
            kill_and_restart(target)
            time.sleep(5)
            assert target.status().phase is PromotionPhase.EVALUATING
            assert target.serving_version() == good  # no rollout on missing data
        finally:
            host_mlflow.start()
        status = target.wait(PROMOTED)
    record("operator SIGKILL while Evaluating, MLflow down", poller)
    assert history(status) == [(candidate, PROMOTED), (good, PROMOTED)]
    assert host_mlflow.alias(model, "production") == candidate
    assert reasons(target, Reason.PROMOTED) == 2


def test_killed_while_rolling_out_reaches_the_same_verdict(
    target: Target, host_mlflow: HostMlflow, images: dict[str, str], model: str
) -> None:
    good = promote_good(target, host_mlflow, images, model)
    candidate = host_mlflow.register(model, "random_forest")
    with Poller(target.url(), ROWS) as poller:
        target.apply(spec_for(host_mlflow, images, model, candidate, replicas=2))
        target.wait(PromotionPhase.ROLLING_OUT, 120, poll_s=0.2)
        kill_and_restart(target)
        status = target.wait(PROMOTED)
    record("operator SIGKILL while RollingOut", poller)
    assert history(status) == [(candidate, PROMOTED), (good, PROMOTED)]
    assert target.serving_version() == candidate
    assert host_mlflow.alias(model, "production") == candidate
    assert reasons(target, Reason.PROMOTED) == 2


def test_killed_while_verifying_reaches_the_same_verdict(
    target: Target, host_mlflow: HostMlflow, images: dict[str, str], model: str
) -> None:
    version = start_verifying(target, host_mlflow, images, model, verify_s=20)
    with Poller(target.url(), ROWS) as poller:
        kill_and_restart(target)
        status = target.wait(PROMOTED)
    record("operator SIGKILL while Verifying", poller)
    assert history(status) == [(version, PROMOTED)]
    assert host_mlflow.alias(model, "production") == version
    assert reasons(target, Reason.PROMOTED) == 1


def test_killed_while_rolling_back_finishes_the_rollback(
    target: Target, host_mlflow: HostMlflow, images: dict[str, str], model: str
) -> None:
    good = promote_good(target, host_mlflow, images, model)
    candidate = host_mlflow.register(model, "random_forest")
    spec = spec_for(host_mlflow, images, model, candidate, replicas=2)
    impossible = {"metric": "latency_p95_ms", "op": "<=", "threshold": 0.001}
    spec["rollout"]["verification"]["gates"] = [impossible]  # fails its first live round
    with Poller(target.url(), ROWS) as poller:
        target.apply(spec)
        target.wait(PromotionPhase.ROLLING_BACK, 120, poll_s=0.2)
        kill_and_restart(target)
        status = target.wait(PromotionPhase.ROLLED_BACK)
    record("operator SIGKILL while RollingBack", poller)
    assert history(status) == [(candidate, PromotionPhase.ROLLED_BACK), (good, PROMOTED)]
    assert target.serving_version() == good
    assert host_mlflow.alias(model, "production") == good
    assert reasons(target, Reason.ROLLED_BACK) == 1
