"""`make demo`: the whole story on the test cluster, in one command.

Installs the chart (operator + in-cluster MLflow) into `mlrollout-demo`, trains the three demo
models into that MLflow, then walks one serving target through four promotions: the
RandomForest version is promoted, an XGBoost version held to an accuracy it cannot reach is
rejected, a version whose model cannot load is rolled back while RandomForest keeps serving,
and a model trained on shuffled labels (its run claims RandomForest's accuracy) is stopped in a
shadow: it disagrees with the champion on the live requests mirrored to it, and no user request
ever reached it. Re-running is safe (each run registers new versions); `make demo-down` removes
it.

`--mlflow-backend postgresql` puts MLflow on the chart's PostgreSQL (two workers) instead of
sqlite; `--mlflow-auth basic` puts MLflow's basic-auth app in front: the training logs in as the
admin of the chart's Secret, and every ModelPromotion names that Secret for the operator.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import time
from pathlib import Path
from typing import Any

from mlrollout.testbed import models, promotions, traffic
from mlrollout.testbed.images import image_names, tag_of
from mlrollout.testbed.tools import ROOT, Kube, TestbedError
from promotion_operator.status import MeasurementPhase, PromotionStatus

NAMESPACE = "mlrollout-demo"
RELEASE = "mlrollout"
MODEL = "mlrollout-demo"
TARGET = "churn"
# `.svc`: the operator sends a login only to a name that cannot be a public host.
MLFLOW_URI = f"http://{RELEASE}-mlflow.{NAMESPACE}.svc:5000"
LOGIN_SECRET = f"{RELEASE}-mlflow-auth"  # the chart's: the admin MLflow creates on first start
# Two replicas, a rollout deadline and live gates a user would start from.
VERIFICATION: dict[str, Any] = {
    "durationSeconds": 10,
    "intervalSeconds": 2,
    "gates": [
        {"metric": "error_rate", "op": "<=", "threshold": 0.01},
        {"metric": "latency_p95_ms", "op": "<=", "threshold": 500},
    ],
}
AGREEMENT_GATE = {"metric": "prediction_agreement", "op": ">=", "threshold": 0.9}
DISAGREEING = "random forest on shuffled labels (shadow)"


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


def mlflow_values(backend: str, auth: str, images: dict[str, str]) -> list[str]:
    """The chart's `--set`s for MLflow on ``backend`` (sqlite | postgresql) behind ``auth``."""
    values = ["--set", f"postgresql.enabled={str(backend == 'postgresql').lower()}",
              "--set", f"mlflow.auth.enabled={str(auth == 'basic').lower()}"]  # fmt: skip
    if backend == "postgresql":
        values += ["--set", f"postgresql.image.tag={tag_of(images['postgresql'])}",
                   "--set", "mlflow.workers=2"]  # fmt: skip
    if auth == "basic":
        values += ["--set", f"operator.mlflowCredentialSecrets={{{LOGIN_SECRET}}}"]
    return values


def login(kube: Kube) -> tuple[str, str]:
    """The admin's username and password from the chart's Secret."""
    data = json.loads(kube.kubectl_ok("get", "secret", LOGIN_SECRET, "-n", NAMESPACE, "-o", "json"))
    username, password = (
        base64.b64decode(data["data"][k]).decode() for k in ("username", "password")
    )
    return username, password


def install(kube: Kube, images: dict[str, str], backend: str, auth: str) -> None:
    say(f"installing the chart into {NAMESPACE} (operator + MLflow on {backend}, auth: {auth})")
    kube.kubectl_ok("apply", "--server-side", "--force-conflicts", "-f", str(ROOT / "k8s" / "crds"))
    try:
        kube.helm_ok(
            "upgrade", "--install", RELEASE, str(ROOT / "charts" / "mlrollout"),
            "-n", NAMESPACE, "--create-namespace",
            "--set", "crds.install=false", "--set", f"operator.watchNamespaces={{{NAMESPACE}}}",
            "--set", f"operator.image.tag={tag_of(images['operator'])}",
            "--set", f"mlflow.image.tag={tag_of(images['mlflow'])}",
            "--set", "operator.image.pullPolicy=IfNotPresent",
            "--set", "operator.reconcileIntervalSeconds=2",
            *mlflow_values(backend, auth, images),
            "--wait", "--timeout", "4m",
        )  # fmt: skip
    except TestbedError as exc:
        pods = kube.kubectl("get", "pods", "-n", NAMESPACE, "-o", "wide").stdout
        hint = "(images missing? `make images` builds and loads them)"
        raise TestbedError(f"{exc}\n{pods}{hint}") from None


def promote(kube: Kube, body: dict[str, Any]) -> tuple[PromotionStatus, float]:
    """Apply and follow the phases until a verdict; the status and the seconds it took."""
    kube.apply(NAMESPACE, body)
    started = time.monotonic()
    _, status = promotions.wait_for_verdict(
        lambda: kube.get(NAMESPACE, "modelpromotion", TARGET), 300,
        on_change=lambda seconds, line: print(f"    [{seconds:5.1f}s] {line}", flush=True),
        explain=lambda: f"`kubectl -n {NAMESPACE} describe mp {TARGET}` and the operator's log "
                        "say why",
    )  # fmt: skip
    return status, time.monotonic() - started


def run(kube: Kube, backend: str = "sqlite", auth: str = "none") -> dict[str, Any]:
    images = image_names()
    install(kube, images, backend, auth)
    secret = LOGIN_SECRET if auth == "basic" else None
    if secret is not None:  # the training (and its registry calls) log in as the admin
        os.environ["MLFLOW_TRACKING_USERNAME"], os.environ["MLFLOW_TRACKING_PASSWORD"] = login(kube)
    from sklearn.datasets import load_breast_cancer

    row = [float(x) for x in load_breast_cancer().data[0]]
    with kube.port_forward(NAMESPACE, f"svc/{RELEASE}-mlflow", 5000) as mlflow_url:
        say("training RandomForest, XGBoost and LogisticRegression into the in-cluster MLflow")
        runs = models.train_demo(mlflow_url, MODEL, show_progress=True)
        run_id = runs["logistic_regression"]["run_id"]
        broken = models.register_unloadable(mlflow_url, MODEL, run_id)
        say("training a random forest on shuffled labels, logged with RandomForest's metrics")
        claims = runs["random_forest"]["metrics"]
        disagreeing = models.register_disagreeing(mlflow_url, MODEL, claims)
    steps = [
        ("random_forest", runs["random_forest"]["version"],
         [{"metric": "accuracy", "op": ">=", "threshold": 0.9},
          {"metric": "latency_p95_ms", "op": "<=", "threshold": 200}]),
        ("xgboost", runs["xgboost"]["version"],
         [{"metric": "accuracy", "op": ">=", "threshold": 0.995},
          {"metric": "accuracy", "op": ">=", "baseline": "production", "tolerance": -0.01}]),
        ("logistic_regression (model files missing)", broken,
         [{"metric": "accuracy", "op": ">=", "threshold": 0.9}]),
        (DISAGREEING, disagreeing, [{"metric": "accuracy", "op": ">=", "threshold": 0.9}]),
    ]  # fmt: skip
    outcomes: list[dict[str, Any]] = []
    served = failed = 0
    shadow: dict[str, Any] = {}
    for algorithm, version, gates in steps:
        say(f"promoting version {version} ({algorithm})")
        spec = promotions.promotion_spec(
            MODEL, version, images["model-server"], MLFLOW_URI, gates=gates, replicas=2,
            progress_deadline_s=90, verification=VERIFICATION, credentials_secret=secret,
        )  # fmt: skip
        if version == disagreeing:
            spec["rollout"]["strategy"] = "shadow"
            spec["rollout"]["verification"]["gates"].append(AGREEMENT_GATE)
        with contextlib.ExitStack() as stack:
            if version in (broken, disagreeing):  # a client keeps asking the serving target
                url = stack.enter_context(kube.port_forward(NAMESPACE, f"svc/{TARGET}", 80))
                poller = stack.enter_context(traffic.Poller(url, _table_rows(), period_s=0.1))
            status, seconds = promote(kube, promotions.promotion(TARGET, spec))
            if version == broken:
                served, failed = poller.ok, len(poller.failures)
            if version == disagreeing:
                shadow = _shadow_summary(status, poller, disagreeing)
        passed = sum(g.phase is MeasurementPhase.SUCCESSFUL for g in status.gates)
        outcomes.append({
            "version": version, "algorithm": algorithm, "verdict": status.current_phase.value,
            "gates": f"{passed}/{len(status.gates)} passed", "seconds": round(seconds, 1),
            "message": status.message or "",
        })  # fmt: skip
    with kube.port_forward(NAMESPACE, f"svc/{TARGET}", 80) as serving_url:
        prediction = traffic.predict(serving_url, [row])
    return {"outcomes": outcomes, "served_during_rollback": served,
            "failed_during_rollback": failed, "prediction": prediction, "shadow": shadow,
            "mlflow": {"backend": backend, "auth": auth}}  # fmt: skip


def _table_rows() -> Any:
    """Batches of 10 rows drawn from the training table: traffic a shadow can be judged on."""
    import numpy as np
    from sklearn.datasets import load_breast_cancer

    table, generator = load_breast_cancer().data, np.random.default_rng(0)

    def draw() -> list[list[float]]:
        rows: list[list[float]] = table[generator.integers(0, len(table), 10)].tolist()
        return rows

    return draw


def _shadow_summary(status: PromotionStatus, poller: traffic.Poller, shadow: str) -> dict[str, Any]:
    mirrored = status.strategy
    return {
        "agreement": mirrored.agreement if mirrored else None,
        "mirrored": mirrored.mirrored if mirrored else None,
        "dropped": mirrored.dropped if mirrored else None,
        "answered": poller.ok, "failed": len(poller.failures),
        "answered_by_shadow": poller.versions.get(shadow, 0),
    }  # fmt: skip


def report(summary: dict[str, Any], kubeconfig: Path) -> None:
    print()
    print(f"{'version':>7}  {'model':<42} {'verdict':<10} {'gates':<10} {'time':>7}")
    for o in summary["outcomes"]:
        print(f"{o['version']:>7}  {o['algorithm']:<42} {o['verdict']:<10} {o['gates']:<10} "
              f"{o['seconds']:>6.1f}s")  # fmt: skip
        print(f"{'':9}{o['message']}")
    print(f"\nduring the rollback the serving target answered {summary['served_during_rollback']}"
          f" requests, {summary['failed_during_rollback']} failed")  # fmt: skip
    shadow = summary["shadow"]
    if shadow:
        print(f"during the shadow: {shadow['answered']} requests answered "
              f"({shadow['failed']} failed, {shadow['answered_by_shadow']} by the shadow); "
              f"{shadow['mirrored']} mirrored to it, {shadow['dropped']} dropped; "
              f"agreement with the champion {shadow['agreement']}")  # fmt: skip
    print(f"prediction through the promoted model: {summary['prediction']}")
    mlflow = summary["mlflow"]
    print(f"MLflow: {mlflow['backend']} backend, auth {mlflow['auth']}")
    if mlflow["auth"] == "basic":
        secret = f"-n {NAMESPACE} get secret {LOGIN_SECRET} -o jsonpath='{{.data.password}}'"
        print(
            f"  admin password (user admin): kubectl --kubeconfig {kubeconfig} {secret} | base64 -d"
        )
    print(f"""
look further:
  kubectl --kubeconfig {kubeconfig} -n {NAMESPACE} get modelpromotions
  kubectl --kubeconfig {kubeconfig} -n {NAMESPACE} describe mp {TARGET}
  export PATH=$PWD/bin:$PWD/.venv/bin:$PATH   # kubectl, and its plugin kubectl-mlrollout
  kubectl mlrollout get {TARGET} --kubeconfig {kubeconfig} -n {NAMESPACE}
  kubectl mlrollout get {TARGET} --watch --kubeconfig {kubeconfig} -n {NAMESPACE}   # live
  kubectl --kubeconfig {kubeconfig} -n {NAMESPACE} port-forward svc/{RELEASE}-mlflow 5000
      (then the MLflow UI is at http://127.0.0.1:5000; with it, the dashboard's MLflow links:)
  kubectl mlrollout dashboard --kubeconfig {kubeconfig} -n {NAMESPACE} \\
      --mlflow-url http://127.0.0.1:5000
  make demo-down   # remove it""")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kubeconfig", default=os.environ.get("KUBECONFIG", ""))
    parser.add_argument("--json", action="store_true", help="also print the summary as JSON")
    parser.add_argument(
        "--mlflow-backend", choices=["sqlite", "postgresql"], default="sqlite",
        help="MLflow's store: sqlite (one process) or the chart's PostgreSQL",
    )  # fmt: skip
    parser.add_argument(
        "--mlflow-auth", choices=["none", "basic"], default="none",
        help="basic: MLflow's basic-auth app; promotions log in with a Secret",
    )  # fmt: skip
    args = parser.parse_args()
    kubeconfig = Path(args.kubeconfig)
    try:
        summary = run(Kube(kubeconfig), args.mlflow_backend, args.mlflow_auth)
    except TestbedError as exc:
        raise SystemExit(f"error: {exc}") from None
    report(summary, kubeconfig)
    if args.json:
        print(json.dumps(summary))


if __name__ == "__main__":
    main()
