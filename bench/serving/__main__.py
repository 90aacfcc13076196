"""`make bench-serving`: the same models served by ours, MLServer and `mlflow models serve`.

One invocation measures, one server after the other on the same machine with the same native
load generator (wrk): concurrency 1, 8, 32 and 64, 1- and 32-row requests, a warm-up, each point
`--repeats` times. Then the in-process limit (no HTTP); the generator's own ceiling against a
minimal responder and the floor of our stack (uvicorn, then FastAPI, with no model); and our
server past saturation (load shedding). Headline figures are ratios from this run. Writes
bench/results/serving-<time>.{json,png}.

Run: `make bench-serving` (about 25 minutes), `make bench-serving ARGS=--quick` (~5 minutes).
"""

from __future__ import annotations

import argparse
import contextlib
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from mlrollout.tracking_server import free_port

from . import inprocess, loadgen, models, overload, report
from .servers import SERVERS, Running, running, wait_ready
from .tools import bench_tools

RESULTS = Path("bench/results")


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", default="ours,mlserver,mlserver-tuned,mlflow")
    parser.add_argument("--models", default="forest,xgboost")
    parser.add_argument("--connections", default="1,8,32,64")
    parser.add_argument("--rows", default="1,32", help="rows per request")
    parser.add_argument("--seconds", type=float, default=5.0, help="per point, after warm-up")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--overload-seconds", type=float, default=10.0)
    parser.add_argument("--quick", action="store_true", help="forest only, 2 s points, once")
    parser.add_argument(
        "--smoke", action="store_true", help="a seconds-long run of every code path (for tests)"
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.quick:
        args.models, args.seconds, args.repeats, args.overload_seconds = "forest", 2.0, 1, 4.0
    if args.smoke:
        args.servers, args.models, args.connections, args.rows = "ours", "forest", "1,8", "1,32"
        args.seconds, args.repeats, args.overload_seconds = 1.0, 1, 1.0
    return args


def _batch_rows_totals(metrics: str) -> tuple[float, float]:
    """(rows, predict calls) the server counted so far: their deltas give the mean batch."""
    total = re.search(r"^mlrollout_model_server_batch_rows_sum ([0-9.e+]+)", metrics, re.M)
    count = re.search(r"^mlrollout_model_server_batch_rows_count ([0-9.e+]+)", metrics, re.M)
    return (float(total.group(1)) if total else 0.0, float(count.group(1)) if count else 0.0)


def _point(
    run: Running, url: str, body: bytes, connections: int, args: argparse.Namespace, ours: bool
) -> dict[str, Any]:
    results, batches = [], []
    for _ in range(args.repeats):
        before = _batch_rows_totals(run.metrics()) if ours else (0.0, 0.0)
        results.append(loadgen.wrk(url, body, connections, args.seconds))
        if ours:
            after = _batch_rows_totals(run.metrics())
            calls = after[1] - before[1]
            batches.append((after[0] - before[0]) / calls if calls else 0.0)
    keys = ("p50_ms", "p95_ms", "p99_ms", "max_ms")
    point: dict[str, Any] = {k: statistics.mean(getattr(r, k) for r in results) for k in keys}
    point.update(
        connections=connections, rps=statistics.mean(r.rps for r in results),
        errors=sum(r.errors for r in results), runs=[r.as_dict() for r in results],
        rss_mb=run.rss_mb(), mean_batch_rows=statistics.mean(batches) if batches else None,
    )  # fmt: skip
    return point


def _serve_all(args: argparse.Namespace, tools: dict[str, str], tmp: Path) -> dict[str, Any]:
    points: list[dict[str, Any]] = []
    limits: dict[str, Any] = {}
    overloads: dict[str, Any] = {}
    failures: list[str] = []
    connections = [int(c) for c in args.connections.split(",")]
    sizes = [int(r) for r in args.rows.split(",")]
    for name in args.models.split(","):
        print(f"\n== {name}: training and saving", flush=True)
        model = models.build(name, tmp)
        limits[name] = inprocess.measure(model, 0.05 if args.smoke else 0.5)
        for key in args.servers.split(","):
            server = SERVERS[key]
            print(f"-- {server.label}: starting", flush=True)
            log = args.out / f"{key}-{name}.log"
            with contextlib.ExitStack() as stack:
                try:
                    tools_dir = Path(tools.get("MLSERVER", "x")).parent
                    run = stack.enter_context(running(server, model, tools_dir, log))
                except SystemExit as exc:  # a server that will not start does not void the rest
                    print(f"   skipped: {exc}", flush=True)
                    failures.append(f"{server.label} ({name}): {exc}")
                    continue
                url = run.base + server.path(model)
                for rows in sizes:
                    body = server.body(model, rows)
                    loadgen.wrk(url, body, 8, 1)  # warm-up
                    for conns in connections:
                        point = _point(run, url, body, conns, args, key == "ours")
                        point.update(model=name, rows=rows, server=server.label)
                        points.append(point)
                        print(f"   {rows:>2} rows, {conns:>2} conns: {point['rps']:>8,.0f} "
                              f"req/s p99 {point['p99_ms']:8.2f} ms errors {point['errors']}",
                              flush=True)  # fmt: skip
                if key == "ours" and name == "forest":
                    body = server.body(model, 1)
                    capacity = max(p["rps"] for p in points if p["server"] == server.label
                                   and p["rows"] == 1)  # fmt: skip
                    overloads[name] = overload.measure(
                        run, url, body, tools["VEGETA"], capacity, args.overload_seconds
                    )
                    overloads[f"{name}, {overload.TIGHT_LIMIT} admitted"] = _tight_overload(
                        server, model, tools, args, body, capacity
                    )
    return {"points": points, "in_process": limits, "overload": overloads, "failures": failures}


def _tight_overload(server: Any, model: Any, tools: dict[str, str], args: argparse.Namespace,
                    body: bytes, capacity: float) -> dict[str, Any]:  # fmt: skip
    """The same overload with the admission bound at the saturation point's concurrency."""
    env = {"MODEL_SERVER_MAX_PENDING_REQUESTS": str(overload.TIGHT_LIMIT)}
    log = args.out / "ours-forest-tight.log"
    with running(server, model, Path("unused"), log, extra_env=env) as run:
        url = run.base + server.path(model)
        loadgen.wrk(url, body, 8, 1)  # warm-up
        return overload.measure(run, url, body, tools["VEGETA"], capacity, args.overload_seconds,
                                limit=overload.TIGHT_LIMIT)  # fmt: skip


def _ceilings(args: argparse.Namespace, body: bytes) -> dict[str, Any]:
    """wrk at 32 connections against servers with no model: the generator's own ceiling (a
    minimal uvloop responder), then the floor of the model server's stack (uvicorn with a bare
    ASGI app, and with FastAPI parsing the body)."""
    ceilings = {}
    for key, argv in (
        ("trivial_responder_32_connections", ["bench.serving.trivial"]),
        ("uvicorn_bare_asgi_32_connections", ["bench.serving.framework_floor", "asgi"]),
        ("uvicorn_fastapi_32_connections", ["bench.serving.framework_floor", "fastapi"]),
    ):
        port, log = free_port(), args.out / f"{key}.log"
        with log.open("ab") as sink:
            proc = subprocess.Popen([sys.executable, "-m", argv[0], str(port), *argv[1:]],
                                    stdout=sink, stderr=subprocess.STDOUT)  # fmt: skip
        try:
            base = f"http://127.0.0.1:{port}"
            wait_ready(base + "/ready", proc, key, log)  # every one answers GET with 200
            ceilings[key] = loadgen.wrk(base + "/", body, 32, args.seconds).as_dict()
        finally:
            proc.terminate()
            proc.wait()
    return ceilings


def main() -> None:
    args = _args()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # 512-worker overload, inherited
    servers = args.servers.split(",")
    tools = bench_tools(any(s.startswith("mlserver") for s in servers))
    args.out.mkdir(parents=True, exist_ok=True)
    info = report.machine()
    report.print_machine(info)
    with tempfile.TemporaryDirectory() as tmp:
        results = _serve_all(args, tools, Path(tmp))
    results["ceilings"] = _ceilings(args, b'{"inputs": []}')
    results["machine"] = info
    results["settings"] = {k: str(v) for k, v in vars(args).items()}
    from .summary import headline, print_all

    results["headline"] = headline(results)
    print_all(results)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    report.write_json(args.out / f"serving-{stamp}.json", results)
    report.plot(args.out / f"serving-{stamp}.png", results["points"])
    print(f"\nwrote {args.out}/serving-{stamp}.json and .png")
    if results["failures"]:
        raise SystemExit("servers that did not start: " + "; ".join(results["failures"]))
    failed = sum(p["errors"] for p in results["points"])
    if failed:
        raise SystemExit(f"{failed} requests failed during the closed-loop points")


if __name__ == "__main__":
    main()
