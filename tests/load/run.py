"""`make load`: a staged ramp of single-row requests against a model server, with thresholds.

Open loop (vegeta): each stage sends its arrival rate whatever the server does, as real traffic
arrives, so a slow server shows as latency and errors, not as a politely slower client. Each
stage must meet the thresholds in the stages file (p95 latency, error rate) or the run exits 1.

Targets: by default a local model server on a freshly trained 100-tree forest; `--url` points at
any running one, e.g. a Service in the cluster through
`kubectl port-forward -n NAMESPACE svc/NAME 8080:80` and `--url http://127.0.0.1:8080`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from bench.serving import loadgen, models, servers
from bench.serving.tools import bench_tools

HERE = Path(__file__).parent


@contextlib.contextmanager
def _target(url: str | None, rows: int, features: int) -> Iterator[tuple[str, bytes]]:
    if url:
        body = json.dumps({"instances": [[0.0] * features] * rows}).encode()
        yield url.rstrip("/") + "/predict", body
        return
    with tempfile.TemporaryDirectory() as tmp:
        print("training a 100-tree forest and starting a local model server...", flush=True)
        model = models.build("forest", Path(tmp))
        log = Path(tmp) / "server.log"
        with servers.running(servers.OURS, model, Path(tmp), log) as run:
            body = json.dumps({"instances": model.rows[:rows].tolist()}).encode()
            yield run.base + "/predict", body


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running model server (default: start one locally)")
    parser.add_argument("--stages", type=Path, default=HERE / "ramp.json")
    parser.add_argument("--rows", type=int, default=1, help="rows per request")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every stage's rate")
    parser.add_argument(
        "--features", type=int, default=30, help="with --url: values per row (rows of zeros)"
    )
    args = parser.parse_args()
    plan = json.loads(args.stages.read_text())
    limits = plan["thresholds"]
    vegeta = bench_tools(with_mlserver=False)["VEGETA"]
    failed = []
    with _target(args.url, args.rows, args.features) as (url, body):
        loadgen.wrk(url, body, 4, 1)  # warm-up
        print(f"{'stage':>5} {'rate/s':>7} {'sent':>7} {'p50 ms':>8} {'p95 ms':>8} "
              f"{'p99 ms':>8} {'errors':>7}  thresholds", flush=True)  # fmt: skip
        for number, stage in enumerate(plan["stages"], 1):
            rate = max(1, round(stage["rate"] * args.scale))
            result = loadgen.vegeta(vegeta, url, body, rate, stage["seconds"])
            admitted = result.admitted
            errors = result.sent - admitted.requests
            error_rate = errors / result.sent if result.sent else 1.0
            ok = admitted.p95_ms <= limits["p95_ms"] and error_rate <= limits["error_rate"]
            verdict = "ok" if ok else (
                f"FAILED (p95 <= {limits['p95_ms']} ms, errors <= {limits['error_rate']:.0%})"
            )  # fmt: skip
            print(f"{number:>5} {rate:>7} {result.sent:>7} {admitted.p50_ms:>8.2f} "
                  f"{admitted.p95_ms:>8.2f} {admitted.p99_ms:>8.2f} {errors:>7}  {verdict}",
                  flush=True)  # fmt: skip
            if not ok:
                failed.append(number)
    if failed:
        sys.exit(f"stages {failed} missed their thresholds")


if __name__ == "__main__":
    main()
