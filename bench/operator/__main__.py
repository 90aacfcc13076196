"""`make bench-operator`: N ModelPromotions applied at once on the real cluster.

For each N (default 50 and 200) and each scenario: "gates" (a gate no model meets, so the
offline gates alone give the verdict, Rejected) and "rollout" (gates pass, a Deployment of one
pod is rolled out onto simulated kwok nodes beside the real ones, reported Ready, promoted and
the MLflow alias written back). The
operator is a real `python -m promotion_operator` process watching a fresh namespace, MLflow a
real server on loopback. Reported: apply-to-verdict p50/p95/max, verdicts per minute, the
operator's peak RSS and CPU, MLflow requests and Kubernetes API requests per promotion.
Writes bench/results/operator-<time>.json.

Run: `make bench-operator` (the cluster must be up: `make cluster-up`), `ARGS=--smoke` for N=5.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from kubernetes import config as kube_config

from bench import processes
from bench.serving.report import machine, print_machine
from mlrollout.testbed.images import image_names

from . import fake_nodes, probes, workload

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results"


def _kubeconfig() -> Path:
    explicit = os.environ.get("MLROLLOUT_KUBECONFIG")
    if explicit:
        return Path(explicit)
    out = subprocess.run([str(ROOT / "hack" / "cluster.sh"), "kubeconfig"], capture_output=True,
                         text=True, check=False)  # fmt: skip
    path = Path(out.stdout.strip())
    if out.returncode or not path.exists():
        raise SystemExit("no test cluster: run `make cluster-up` first")
    return path


def _install_crd(kubeconfig: Path) -> None:
    kubectl = [str(ROOT / "bin" / "kubectl"), "--kubeconfig", str(kubeconfig)]
    crd = ROOT / "k8s" / "crds" / "modelpromotions.mlrollout.dev.yaml"
    subprocess.run([*kubectl, "apply", "--server-side", "--force-conflicts", "-f", str(crd)],
                   check=True, capture_output=True)  # fmt: skip
    established = ["--for=condition=Established", "--timeout=60s"]
    subprocess.run([*kubectl, "wait", *established, "crd/modelpromotions.mlrollout.dev"],
                   check=True, capture_output=True)  # fmt: skip


def _apiserver_metrics(kubeconfig: Path) -> str:
    return subprocess.run(
        [str(ROOT / "bin" / "kubectl"), "--kubeconfig", str(kubeconfig), "get", "--raw",
         "/metrics"], capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip


def _tree_cpu(pid: int) -> float:
    return sum(s.cpu_seconds for s in processes.tree_samples(pid))


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def run_one(args: Any, kubeconfig: Path, api: Any, n: int, scenario: str, tmp: Path,
            mlflow: tuple[str, Path, dict[str, Any], int]) -> dict[str, Any]:  # fmt: skip
    url, mlflow_log, runs, mlflow_pid = mlflow
    print(f"\n== N={n}, {scenario}: registering {n} models", flush=True)
    names = workload.register_models(url, runs, n, f"b{n}-{scenario[:4]}")
    bodies = workload.specs(names, url, image_names()["model-server"], scenario == "rollout")
    with contextlib.ExitStack() as nodes:
        if scenario == "rollout":  # until the namespace is gone: kwok deletes the pods
            nodes.enter_context(fake_nodes.fake_nodes(kubeconfig, api, n, tmp / "kwok.log"))
        namespace = workload.fresh_namespace(api)  # deleted by _measure, whatever happens
        log = tmp / f"operator-{n}-{scenario}.log"
        operator = workload.OperatorRun(kubeconfig, namespace, log)
        measured = _measure(args, kubeconfig, api, bodies, namespace, operator, mlflow_log,
                            mlflow_pid)  # fmt: skip
    result = {"scenario": scenario, **measured}
    _print(result)
    return result


def _measure(args: Any, kubeconfig: Path, api: Any, bodies: list[dict[str, Any]],
             namespace: str, operator: workload.OperatorRun, mlflow_log: Path,
             mlflow_pid: int) -> dict[str, Any]:  # fmt: skip
    """Apply every body at once, wait for every verdict, and read what it cost."""
    n = len(bodies)
    try:
        operator.start()
        time.sleep(2)  # the operator's watch is up
        api_before = probes.apiserver_requests(_apiserver_metrics(kubeconfig))
        mlflow_before = probes.mlflow_requests(mlflow_log.read_text(errors="replace"))
        assert operator.process is not None
        cpu_before = processes.sample(operator.process.pid).cpu_seconds
        mlflow_cpu_before = _tree_cpu(mlflow_pid)
        machine_before = processes.machine_busy_seconds()
        started = time.monotonic()
        applied, verdicts, phases = workload.apply_and_wait(api, namespace, bodies, args.timeout)
        wall = time.monotonic() - started
        machine_cpu = processes.machine_busy_seconds() - machine_before
        after = processes.sample(operator.process.pid)
        mlflow_cpu = _tree_cpu(mlflow_pid) - mlflow_cpu_before
        api_delta = probes.apiserver_requests(_apiserver_metrics(kubeconfig)) - api_before
        mlflow_delta = (
            probes.mlflow_requests(mlflow_log.read_text(errors="replace")) - mlflow_before
        )
        pods = fake_nodes.ready_pods_by_node_kind(api, namespace)
        steps = workload.rollout_steps(api, namespace, applied, verdicts)
    finally:
        print("   deleting the namespace (the operator removes its finalizers)...", flush=True)
        workload.delete_namespace(api, namespace)
        operator.stop()
    latencies = [verdicts[k] - applied[k] for k in verdicts if k in applied]
    # The bench's own calls: N creates and one watch/list of ModelPromotions.
    api_delta["POST modelpromotions"] -= n
    operator_cpu = after.cpu_seconds - cpu_before
    mlflow_requests = sum(mlflow_delta.values())
    return {
        "n": n, "verdicts": len(verdicts), "lost": n - len(verdicts),
        "phases": dict(Counter(phases.values())),
        "apply_to_verdict_s": {"p50": _pct(latencies, 50), "p95": _pct(latencies, 95),
                               "max": max(latencies)} if latencies else None,
        "verdicts_per_minute": len(verdicts) / wall * 60 if wall else 0.0,
        "operator_peak_rss_mb": max(s.peak_rss_mb for s in [*operator.samples, after]),
        "operator_cpu_seconds": operator_cpu,
        "operator_cpu_percent": operator_cpu / wall * 100 if wall else 0.0,
        "mlflow_requests_per_promotion": mlflow_requests / n,
        "mlflow_cpu_percent": mlflow_cpu / wall * 100 if wall else 0.0,
        "mlflow_cpu_ms_per_request": mlflow_cpu / mlflow_requests * 1000 if mlflow_requests else 0,
        # Where the machine's CPU went, per promotion: "rest" is the cluster (API server, etcd,
        # controllers, kwok) and this bench's own client.
        "cpu_ms_per_promotion": {"operator": operator_cpu / n * 1000,
                                 "mlflow": mlflow_cpu / n * 1000,
                                 "rest": (machine_cpu - operator_cpu - mlflow_cpu) / n * 1000},
        "machine_cpu_percent": machine_cpu / wall * 100 if wall else 0.0,
        "cores": os.cpu_count() or 1,
        "mlflow_requests": dict(mlflow_delta.most_common(12)),
        "api_requests_per_promotion": sum(v for v in api_delta.values() if v > 0) / n,
        "api_requests": dict(api_delta.most_common(15)),
        "ready_pods": pods,
        "rollout_steps_s": {step: {"p50": _pct(v, 50), "p95": _pct(v, 95)}
                            for step, v in steps.items() if v},
        "wall_s": wall,
    }  # fmt: skip


def _print(r: dict[str, Any]) -> None:
    lat = r["apply_to_verdict_s"] or {"p50": float("nan"), "p95": float("nan"), "max": float("nan")}
    print(f"   verdicts {r['verdicts']}/{r['n']} {r['phases']}, apply-to-verdict p50 "
          f"{lat['p50']:.2f} s, p95 {lat['p95']:.2f} s, max {lat['max']:.2f} s; "
          f"{r['verdicts_per_minute']:,.0f} verdicts/min")  # fmt: skip
    print(f"   operator: peak RSS {r['operator_peak_rss_mb']:.0f} MiB, CPU "
          f"{r['operator_cpu_seconds']:.1f} s ({r['operator_cpu_percent']:.0f}% of a core); "
          f"MLflow {r['mlflow_requests_per_promotion']:.1f} requests/promotion (its CPU "
          f"{r['mlflow_cpu_percent']:.0f}% of a core), Kubernetes API "
          f"{r['api_requests_per_promotion']:.1f} requests/promotion")  # fmt: skip
    per = r["cpu_ms_per_promotion"]
    busy = r["machine_cpu_percent"] / r["cores"]
    print(f"   machine: {busy:.0f}% of {r['cores']} cores busy; CPU per promotion "
          f"{sum(per.values()):.0f} ms: operator {per['operator']:.0f}, MLflow "
          f"{per['mlflow']:.0f} ({r['mlflow_cpu_ms_per_request']:.1f} ms a request), "
          f"cluster and bench client {per['rest']:.0f}")  # fmt: skip
    for step, q in r["rollout_steps_s"].items():
        print(f"   {step:>10}: p50 {q['p50']:.1f} s, p95 {q['p95']:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", default="50,200", help="promotions applied at once, per run")
    parser.add_argument("--scenarios", default="gates,rollout")
    parser.add_argument("--timeout", type=float, default=600, help="per run, for every verdict")
    parser.add_argument(
        "--mlflow-workers",
        type=int,
        default=1,
        help="uvicorn workers of the local MLflow (`mlflow server --workers`)",
    )
    parser.add_argument("--smoke", action="store_true", help="N=5 (for the tests)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.smoke:
        args.n, args.timeout = "5", 180
    kubeconfig = _kubeconfig()
    logging.getLogger("mlflow").setLevel(logging.WARNING)  # one line per registered version
    _install_crd(kubeconfig)
    api = kube_config.new_client_from_config(config_file=str(kubeconfig))  # type: ignore[no-untyped-call]
    info = machine()
    print_machine(info)
    results: list[dict[str, Any]] = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        workload.local_mlflow(Path(tmp), args.mlflow_workers) as mlflow,
    ):
        for n in (int(v) for v in args.n.split(",")):
            for scenario in args.scenarios.split(","):
                results.append(run_one(args, kubeconfig, api, n, scenario, Path(tmp), mlflow))
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"operator-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps({"machine": info, "runs": results}, indent=2))
    print(f"\nwrote {path}")
    lost = sum(r["lost"] for r in results)
    if lost:
        raise SystemExit(f"{lost} promotions reached no verdict in time")


if __name__ == "__main__":
    main()
