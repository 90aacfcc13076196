"""The dashboard end to end: `kubectl mlrollout dashboard`'s wiring (the real list and watch,
through a kubeconfig, no component in the cluster) serving headless Chromium, while the real
operator promotes one version and rejects another. The page must follow each card live (no
reload), name the failing gate, drop a deleted promotion, and show only what its user may list.
The screenshot is kept in $MLROLLOUT_ARTIFACTS_DIR (else .artifacts/) as dashboard.png."""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from kubernetes import client, config

from mlrollout.dashboard.command import Dashboard, DashboardError
from mlrollout.testbed.promotions import promotion

from ..browser import Chromium, Page, artifacts_dir, chromium, require_chromium
from .cluster import Cluster, describe_namespace
from .mlflow_models import HostMlflow
from .operator_process import OperatorProcess
from .promotions import apply, base_spec, status_of
from .users import user_kubeconfig

CONCLUDED = ("Promoted", "Rejected", "RolledBack", "Failed")
# Every phase each card has shown, in order (cards are replaced on each change: watch the list).
RECORD_PHASES = """(() => {
  window.phasesSeen = {};
  const note = () => {
    for (const c of document.querySelectorAll('article.card')) {
      const seen = (window.phasesSeen[c.dataset.key] ||= []);
      if (seen[seen.length - 1] !== c.dataset.phase) seen.push(c.dataset.phase);
    }
  };
  new MutationObserver(note).observe(document.getElementById('promotions'), {childList: true});
  note();
  window.sameDocument = 'yes';
})()"""


def card(key: str) -> str:
    return f"document.querySelector('article.card[data-key={json.dumps(key)}]')"


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Chromium]:
    binary = require_chromium()
    with chromium(binary, tmp_path / "chromium") as started:
        yield started


def kubeconfig_client(path: Path, context: str | None = None) -> client.ApiClient:
    """An API client from a kubeconfig, as the plugin makes one."""
    made: client.ApiClient = config.new_client_from_config(config_file=str(path), context=context)  # type: ignore[no-untyped-call]
    return made


def wait_card(
    page: Page, cluster: Cluster, namespace: str, name: str, phase: str, timeout_s: float,
    operator: OperatorProcess | None = None,
) -> None:  # fmt: skip
    """Until the card of ``name`` shows ``phase``; another verdict fails at once, with the
    namespace's state, the operator's log and the page."""
    key = f"{namespace}/{name}"
    shown = page.wait_for(
        f"(c => c && {json.dumps([phase, *CONCLUDED])}.includes(c.dataset.phase) && "
        f"c.dataset.phase)({card(key)})",
        timeout_s, f"the card of {key} to show {phase}",
    )  # fmt: skip
    if shown != phase:
        log = operator.log_tail(60) if operator else ""
        raise AssertionError(
            f"the card of {key} shows {shown}, not {phase}\n{page.text()[:3000]}\n"
            f"{describe_namespace(cluster, namespace)}\n--- operator log ---\n{log}"
        )


def test_the_page_follows_a_promotion_live_and_names_a_rejected_ones_gate(
    cluster: Cluster, namespace: str, operator: OperatorProcess, host_mlflow: HostMlflow,
    images: dict[str, str], model: str, browser: Chromium,
) -> None:  # fmt: skip
    good = host_mlflow.register(model, "logistic_regression")
    weak_model = f"{model}-weak"
    weak = host_mlflow.register(weak_model, "xgboost")
    image = images["model-server"]
    api = kubeconfig_client(cluster.kubeconfig, cluster.context)
    dashboard = Dashboard(
        api, namespace=None, address="127.0.0.1", port=0, mlflow_url=host_mlflow.url
    )  # every namespace, as `kubectl mlrollout dashboard` without -n
    with dashboard.in_thread() as url:
        page = browser.open(url)
        page.wait_for("document.body.dataset.stream === 'open'", 30, "the event stream")
        page.evaluate(RECORD_PHASES)

        apply(cluster, namespace, promotion("good", base_spec(model, good, image, host_mlflow.url)))
        wait_card(page, cluster, namespace, "good", "Promoted", 240, operator)
        key = f"{namespace}/good"
        seen = page.evaluate(f"window.phasesSeen[{json.dumps(key)}]")
        assert seen[-1] == "Promoted"
        assert len(seen) >= 3, seen  # e.g. Pending, Evaluating, RollingOut, Verifying: live
        assert page.evaluate("window.sameDocument") == "yes"  # never reloaded
        status = status_of(cluster, namespace, "good")
        assert status.candidate is not None
        assert status.candidate.run_id is not None
        shown = page.evaluate(f"""(c => [
            c.querySelector('.version-candidate a').textContent,
            c.querySelector('.version-serving a').textContent,
            [...c.querySelectorAll('.gate')].map(g => [g.dataset.gate, g.dataset.phase]),
            [...c.querySelectorAll('nav.links a')].map(a => a.href),
            Number(c.querySelector('svg.chart[data-metric=latency_p95_ms]')?.dataset.points ?? 0),
        ])({card(key)})""")
        assert shown[:2] == [f"v{good}", f"v{good}"]
        assert shown[2] == [[g.name, g.phase.value] for g in status.gates]
        assert shown[3] == [
            f"{host_mlflow.url}/#/runs/{status.candidate.run_id}",
            f"{host_mlflow.url}/#/models/{model}/versions/{good}",
            f"{host_mlflow.url}/#/models/{model}/versions/{good}",
        ]
        assert shown[4] >= 1, "no verification sample on the chart"
        run = host_mlflow.client.get_run(status.candidate.run_id)  # the link's run exists
        assert run.info.run_id == status.candidate.run_id
        run_page = httpx.get(shown[3][0].split("#")[0], timeout=10)  # MLflow's UI answers
        assert run_page.status_code == 200

        weak_spec = base_spec(weak_model, weak, image, host_mlflow.url)
        weak_spec["gates"] = [{"metric": "accuracy", "op": ">=", "threshold": 0.9999}]
        apply(cluster, namespace, promotion("weak", weak_spec))
        wait_card(page, cluster, namespace, "weak", "Rejected", 120, operator)
        failed = page.evaluate(f"{card(f'{namespace}/weak')}.querySelector('.failed-gates')"
                               ".innerText")  # fmt: skip
        assert failed.startswith("Failed gate: accuracy >= 0.9999 (value 0."), failed
        assert page.evaluate(f"{card(f'{namespace}/good')}.dataset.phase") == "Promoted"

        shot = page.screenshot(artifacts_dir() / "dashboard.png")
        sys.stderr.write(f"\ndashboard screenshot: {shot}\n")

        deleted = cluster.kube.kubectl("delete", "mp", "weak", "-n", namespace, "--wait=true")
        assert deleted.returncode == 0, deleted.stderr
        page.wait_for(f"{card(f'{namespace}/weak')} === null", 60, "the deleted card to go")
        assert page.console == []


@pytest.fixture
def reader_role(cluster: Cluster) -> Iterator[str]:
    """A ClusterRole that may only read ModelPromotions (bound in one namespace by the test)."""
    name = f"e2e-dashboard-reader-{uuid.uuid4().hex[:5]}"
    rbac = client.RbacAuthorizationV1Api(cluster.api)
    rule = client.V1PolicyRule(api_groups=["mlrollout.dev"], resources=["modelpromotions"],
                               verbs=["get", "list", "watch"])  # fmt: skip
    rbac.create_cluster_role(
        client.V1ClusterRole(metadata=client.V1ObjectMeta(name=name), rules=[rule])
    )
    yield name
    rbac.delete_cluster_role(name)


def test_the_dashboard_shows_what_its_user_may_list_and_says_when_it_may_not(
    cluster: Cluster, namespace: str, crd: None, images: dict[str, str], reader_role: str,
    browser: Chromium, tmp_path: Path,
) -> None:  # fmt: skip
    kubeconfig = user_kubeconfig(cluster, namespace, "reader", reader_role, tmp_path)
    reader = kubeconfig_client(kubeconfig)

    def dashboard(where: str | None) -> Dashboard:
        return Dashboard(reader, namespace=where, address="127.0.0.1", port=0, mlflow_url=None)

    with pytest.raises(DashboardError, match=r"all namespaces \(403 Forbidden\): pass -n NAMESP"):
        dashboard(None)
    with pytest.raises(DashboardError, match=r"in namespace default \(403 Forbidden\)"):
        dashboard("default")

    spec = base_spec("e2e-unjudged", "1", images["model-server"], "http://mlflow:5000")
    apply(cluster, namespace, promotion("first", spec))  # no operator here: it stays Pending
    with dashboard(namespace).in_thread() as url:
        page = browser.open(url)
        wait_card(page, cluster, namespace, "first", "Pending", 30)
        apply(cluster, namespace, promotion("second", spec))
        wait_card(page, cluster, namespace, "second", "Pending", 30)  # through the reader's watch
        keys = page.evaluate("[...document.querySelectorAll('article.card')]"
                             ".map(c => c.dataset.key)")  # fmt: skip
        assert keys == [f"{namespace}/first", f"{namespace}/second"]
        assert page.evaluate("document.getElementById('source-problem').hidden") is True
