"""A person's hand on promotions, end to end: `kubectl mlrollout` as users with the cluster's own
`edit` and `view` roles (which the chart's aggregated roles extend), against the real API server,
with a client asking the Service throughout the moves that change what serves.

- approval before rollout blocks until approved; pause holds a verifying promotion (no round is
  judged) until resumed; undo puts the previous version back, without gates, no request failing;
- abort mid-verification rolls back, no request failing; retry judges the version again;
- the view role may look and not act; a request naming another user is refused at admission;
- each status is judged by the Argo CD health check shipped in argocd/health.lua, and the
  operator's webhook hears of each verdict and each wait for a person.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mlrollout.testbed.tools import ROOT
from mlrollout.testbed.traffic import Poller
from promotion_operator.control import REQUEST_ANNOTATION, REQUESTED_BY_ANNOTATION
from promotion_operator.status import PromotionPhase, PromotionStatus

from ..argocd.health import argocd_health
from .cluster import Cluster, wait_for
from .mlflow_models import HostMlflow
from .promotions import TIMINGS, base_spec, get
from .receiver import Receiver
from .rows import traffic
from .target import Target
from .users import account_name, plugin, user_kubeconfig


@pytest.fixture(scope="module")
def control_policies(cluster: Cluster, crd: None) -> Iterator[None]:
    """The chart's aggregated view/edit roles and its admission policy for control requests,
    as `helm install` would put them (a release name of their own, removed afterwards)."""
    release = f"controls-{uuid.uuid4().hex[:5]}"
    rendered = cluster.kube.helm(
        "template", release, str(ROOT / "charts" / "mlrollout"), "-n", "default",
        "--set", "mlflow.enabled=false", "--set", "crds.install=false",
        "--set", "operator.image.tag=controls",
        "--show-only", "templates/rbac.yaml", "--show-only", "templates/request-policy.yaml",
    )  # fmt: skip
    assert rendered.returncode == 0, rendered.stderr
    applied = cluster.kube.kubectl("apply", "-f", "-", stdin=rendered.stdout)
    assert applied.returncode == 0, applied.stderr
    time.sleep(2)  # the aggregation controller folds the new rules into view and edit
    yield
    cluster.kube.kubectl("delete", "--ignore-not-found", "-f", "-", stdin=rendered.stdout)


@dataclass
class Story:
    cluster: Cluster
    target: Target
    mlflow: HostMlflow
    image: str
    model: str
    editor: Path
    viewer: Path
    editor_name: str

    def spec(self, version: str, **rollout: Any) -> dict[str, Any]:
        spec = base_spec(self.model, version, self.image, self.mlflow.url)
        spec["rollout"]["verification"].update({"durationSeconds": 12, "intervalSeconds": 3})
        spec["rollout"].update(rollout)
        return spec

    def health(self) -> tuple[str, str]:
        return argocd_health(get(self.cluster, self.target.namespace, self.target.name))

    def ask(self, *args: str, user: Path | None = None) -> str:
        done = plugin(user or self.editor, *args, self.target.name)
        assert done.returncode == 0, f"kubectl mlrollout {args}: {done.stdout}\n{done.stderr}"
        return done.stdout


@pytest.fixture
def story(
    cluster: Cluster, namespace: str, target: Target, host_mlflow: HostMlflow,
    images: dict[str, str], model: str, tmp_path: Path, control_policies: None,
) -> Story:  # fmt: skip
    return Story(
        cluster, target, host_mlflow, images["model-server"], model,
        editor=user_kubeconfig(cluster, namespace, "editor", "edit", tmp_path),
        viewer=user_kubeconfig(cluster, namespace, "viewer", "view", tmp_path),
        editor_name=account_name(namespace, "editor"),
    )  # fmt: skip


def _with_webhook(target: Target, url: str) -> None:
    """The operator again, now telling ``url`` of its verdicts and waits."""
    target.operator.stop()
    target.operator.extra_env["MLROLLOUT_OPERATOR_WEBHOOK_URL"] = url
    target.operator.start()


def _last(status: PromotionStatus, action: str) -> tuple[str | None, str | None]:
    entry = status.history[0]
    assert entry.action == action, status.history
    return entry.version, entry.requested_by


def test_approval_pause_and_undo(story: Story) -> None:
    target = story.target
    with Receiver() as hook:
        _with_webhook(target, hook.url)
        first = story.mlflow.register(story.model, "logistic_regression")
        second = story.mlflow.register(story.model, "random_forest")
        target.apply(story.spec(first))
        target.wait(PromotionPhase.PROMOTED)
        assert story.health()[0] == "Healthy"

        # approval before rollout: nothing moves until a person says so
        target.apply(story.spec(second, approval="beforeRollout"))
        waiting = target.wait(PromotionPhase.AWAITING_APPROVAL, 120)
        assert waiting.approval is not None
        assert waiting.approval.stage == "beforeRollout"
        assert target.serving_version() == first
        assert story.health()[0] == "Suspended"
        shown = story.ask("get")
        assert "AwaitingApproval" in shown
        assert second in shown
        print(f"\n--- kubectl mlrollout get (awaiting approval) ---\n{shown}")
        approved = story.ask("approve")
        print(f"--- kubectl mlrollout approve ---\n{approved}")
        target.wait(PromotionPhase.VERIFYING, 120)
        assert story.health()[0] == "Progressing"

        # pause holds verification where it is; resume goes on
        print(f"--- kubectl mlrollout pause ---\n{story.ask('pause')}")
        log = target.operator.log_tail
        held = wait_for("the operator to hold", lambda: _paused(target), 30, log)
        rounds = _rounds(held)
        time.sleep(10)  # more than three verification intervals
        still = target.status()
        assert still.current_phase is PromotionPhase.VERIFYING
        assert _rounds(still) == rounds, "a paused promotion judged a round"
        assert story.health()[0] == "Suspended"
        story.ask("resume")
        promoted = target.wait(PromotionPhase.PROMOTED, 120)
        assert promoted.paused_at is None

        # undo: the first version serves again, without gates, while a client keeps asking
        with Poller(target.url(), traffic(seed=8), period_s=0.05) as client:
            time.sleep(1)
            asked = time.monotonic()
            print(f"--- kubectl mlrollout undo ---\n{story.ask('undo')}")
            undone = target.wait(PromotionPhase.ROLLED_BACK, 120)
            wait_for("only the first version to answer", lambda: _only(client, first, asked), 60,
                     target.operator.log_tail)  # fmt: skip
        assert client.failures == [], client.failures[:5]
        last_second = max(t for t, v in client.answers if v == second)
        TIMINGS["undo: old version serving everything"] = last_second - asked
        assert _last(undone, "undo") == (second, story.editor_name)
        assert undone.serving_version == first
        assert undone.last_known_good_version == first
        assert story.mlflow.alias(story.model, "production") == first
        assert story.health()[0] == "Degraded"
        print(f"--- kubectl mlrollout get (after undo) ---\n{story.ask('get')}")
        wait_for("the webhook to hear of the undo", lambda: "RolledBack" in hook.events(), 30,
                 lambda: str(hook.events()))  # fmt: skip
    assert hook.events()[:3] == ["Promoted", "AwaitingApproval", "Promoted"], hook.events()
    assert hook.documents[1]["version"] == second


def test_abort_retry_and_who_may(story: Story) -> None:
    target, namespace = story.target, story.target.namespace
    first = story.mlflow.register(story.model, "logistic_regression")
    second = story.mlflow.register(story.model, "random_forest")
    target.apply(story.spec(first))
    target.wait(PromotionPhase.PROMOTED)
    slow = story.spec(second)
    slow["rollout"]["verification"]["durationSeconds"] = 600
    with Poller(target.url(), traffic(seed=9), period_s=0.05) as client:
        target.apply(slow)
        target.wait(PromotionPhase.VERIFYING, 120)
        # the view role looks, and may not act
        assert "Verifying" in story.ask("get", user=story.viewer)
        denied = plugin(story.viewer, "abort", target.name)
        assert denied.returncode != 0
        assert "kubectl auth can-i patch modelpromotions.mlrollout.dev" in denied.stderr, denied
        # a request in someone else's name is refused by the API server
        forged = json.dumps({"id": "forged", "action": "abort", "version": second})
        refused = story.cluster.kube.kubectl(
            "annotate", "mp", target.name, "-n", namespace, "--overwrite",
            f"{REQUEST_ANNOTATION}={forged}", f"{REQUESTED_BY_ANNOTATION}=someone-else",
        )  # fmt: skip
        assert refused.returncode != 0
        assert "must name the user who asks" in refused.stderr, refused.stderr
        assert target.status().current_phase is PromotionPhase.VERIFYING
        # the editor aborts: the first version serves again at once
        started = time.monotonic()
        print(f"\n--- kubectl mlrollout abort ---\n{story.ask('abort', '--reason', 'e2e')}")
        aborted = target.wait(PromotionPhase.ROLLED_BACK, 120)
        TIMINGS["abort: apply to RolledBack"] = time.monotonic() - started
        wait_for("only the first version to answer", lambda: _only(client, first, started), 60,
                 target.operator.log_tail)  # fmt: skip
    assert client.failures == [], client.failures[:5]
    assert _last(aborted, "abort") == (second, story.editor_name)
    assert aborted.requests[0].accepted
    assert aborted.requests[0].requested_by == story.editor_name
    assert target.serving_version() == first
    assert story.health() == ("Degraded", aborted.message)

    # retry: the same version judged again (here with a shorter verification), and promoted
    target.apply(story.spec(second))
    time.sleep(3)
    assert target.status().current_phase is PromotionPhase.ROLLED_BACK  # an edit does not retry
    print(f"--- kubectl mlrollout retry ---\n{story.ask('retry')}")
    retried = target.wait(PromotionPhase.PROMOTED, 180)
    assert retried.candidate_version == second
    assert target.serving_version() == second
    assert [r.action for r in retried.requests] == ["retry", "abort"]


def _paused(target: Target) -> PromotionStatus | None:
    status = target.status()
    return status if status.paused_at is not None else None


def _rounds(status: PromotionStatus) -> int:
    return len(status.verification.samples) if status.verification else 0


def _only(client: Poller, version: str, since: float) -> bool:
    """The last dozen answers, all after ``since``, came from ``version``."""
    recent = [v for t, v in client.answers[-12:] if t > since]
    return len(recent) == 12 and set(recent) == {version}
