"""`make bench-mirror`: what shadow mirroring costs the champion, in one run.

One champion (our server on the serving benchmark's 100-tree forest) is driven by wrk with
single-row v2 requests: first with mirroring off (its shadow URL names a port where nothing
listens yet: the usual case, no shadow Service), then a shadow is started on that port with
MODEL_SERVER_MIRROR_SHARE=100, the champion turns mirroring on, and the same load again.
Printed: req/s, p50 and p99 of both phases and their ratios (on / off), the champion's CPU per
request, what became of the mirrored requests (sent, dropped, failed) and the shadow's agreement.
wrk, the champion and (in the second phase) the shadow share this machine's cores; on a cluster
the shadow runs in pods of its own, so the "on" figures here are a worst case.
Writes bench/results/mirror-overhead.json.

Run: `make bench-mirror` (about a minute), or `python -m bench.mirror_overhead --seconds 5`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from bench import processes
from bench.serving import loadgen, models, report
from bench.serving.servers import OURS, Running, running, v2_body
from mlrollout.tracking_server import free_port

RESULTS = Path("bench/results")
OUTCOMES = ("sent", "dropped", "failed")
M = "mlrollout_model_server_"


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0, help="per phase, after warm-up")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--out", type=Path, default=RESULTS)
    return parser.parse_args()


def _metric(run: Running, name: str, **labels: str) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(run.metrics())
        for sample in family.samples
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
    )


def _outcomes(champion: Running) -> dict[str, float]:
    return {o: _metric(champion, f"{M}mirror_requests_total", outcome=o) for o in OUTCOMES}


def _cpu_seconds(run: Running) -> float:
    return sum(s.cpu_seconds for s in processes.tree_samples(run.pid))


def _settled(champion: Running, timeout_s: float = 30) -> dict[str, float]:
    """The mirror outcomes once the champion's queue has drained (two equal readings)."""
    deadline = time.monotonic() + timeout_s
    last = _outcomes(champion)
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = _outcomes(champion)
        if now == last:
            return now
        last = now
    raise SystemExit("the champion's mirror queue never drained")


def _phase(label: str, champion: Running, url: str, body: bytes, args: argparse.Namespace,
           others: list[Running]) -> dict[str, Any]:  # fmt: skip
    loadgen.wrk(url, body, 8, 2)  # warm-up (and, with mirroring on, the shadow's)
    cpu = [_cpu_seconds(run) for run in (champion, *others)]
    result = loadgen.wrk(url, body, args.connections, args.seconds)
    used = [
        _cpu_seconds(run) - before for run, before in zip((champion, *others), cpu, strict=True)
    ]
    per_request = 1e3 / max(1, result.requests)
    point: dict[str, Any] = {"phase": label, **result.as_dict(),
                             "champion_cpu_ms_per_request": used[0] * per_request}  # fmt: skip
    if others:
        point["shadow_cpu_ms_per_request"] = used[1] * per_request
    print(f"   {label:<10} {point['rps']:>8,.0f} req/s  p50 {point['p50_ms']:6.2f} ms  "
          f"p99 {point['p99_ms']:6.2f} ms  errors {point['errors']}", flush=True)  # fmt: skip
    return point


def _wait_mirroring(champion: Running, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while _metric(champion, f"{M}mirror_share") != 1.0:
        if time.monotonic() > deadline:
            raise SystemExit("the champion never turned mirroring on")
        time.sleep(0.2)


def _measure(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    print("== forest: training and saving", flush=True)
    model = models.build("forest", tmp)
    url_path, body = OURS.path(model), v2_body(model, 1)
    shadow_port = free_port()
    champion_env = {"MODEL_SERVER_SHADOW_URL": f"http://127.0.0.1:{shadow_port}",
                    "MODEL_SERVER_SHADOW_POLL_SECONDS": "1"}  # fmt: skip
    log = args.out / "mirror-champion.log"
    with running(OURS, model, tmp, log, extra_env=champion_env) as champion:
        off = _phase("off", champion, champion.base + url_path, body, args, [])
        shadow_env = {"MODEL_SERVER_MIRROR_SHARE": "100"}
        log = args.out / "mirror-shadow.log"
        with running(OURS, model, tmp, log, port=shadow_port, extra_env=shadow_env) as shadow:
            _wait_mirroring(champion)
            before = _settled(champion)
            compared = (_metric(shadow, f"{M}mirror_rows_total"),
                        _metric(shadow, f"{M}mirror_agreed_rows_total"))  # fmt: skip
            on = _phase("on (100%)", champion, champion.base + url_path, body, args, [shadow])
            after = _settled(champion)
            rows = _metric(shadow, f"{M}mirror_rows_total") - compared[0]
            agreed = _metric(shadow, f"{M}mirror_agreed_rows_total") - compared[1]
    # The on phase's warm-up is mirrored too: the outcomes from its start to the drained end.
    mirror = {o: after[o] - before[o] for o in OUTCOMES}
    return {"off": off, "on": on, "mirror": mirror, "shadow_rows_compared": rows,
            "agreement": agreed / rows if rows else None}  # fmt: skip


def _report(results: dict[str, Any]) -> None:
    off, on = results["off"], results["on"]
    ratios = {key: on[key] / off[key] for key in ("rps", "p50_ms", "p99_ms",
              "champion_cpu_ms_per_request") if off[key]}  # fmt: skip
    results["ratios_on_over_off"] = ratios
    print(f"\n{'mirroring':<12} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'CPU ms/req':>11}")
    for point in (off, on):
        print(f"{point['phase']:<12} {point['rps']:>9,.0f} {point['p50_ms']:>8.2f} "
              f"{point['p99_ms']:>8.2f} {point['champion_cpu_ms_per_request']:>11.3f}")  # fmt: skip
    print(f"{'on / off':<12} {ratios['rps']:>8.2f}x {ratios['p50_ms']:>7.2f}x "
          f"{ratios['p99_ms']:>7.2f}x {ratios['champion_cpu_ms_per_request']:>10.2f}x")  # fmt: skip
    mirror = results["mirror"]
    agreement = results["agreement"]
    print(f"mirrored: sent {mirror['sent']:,.0f}, dropped {mirror['dropped']:,.0f}, failed "
          f"{mirror['failed']:,.0f}; the shadow compared {results['shadow_rows_compared']:,.0f} "
          f"rows, agreement {agreement if agreement is None else round(agreement, 4)}; shadow "
          f"CPU {on['shadow_cpu_ms_per_request']:.3f} ms per champion request")  # fmt: skip


def main() -> None:
    args = _args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (hack/bench-tools.sh installs it)")
    args.out.mkdir(parents=True, exist_ok=True)
    info = report.machine()
    report.print_machine(info)
    with tempfile.TemporaryDirectory() as tmp:
        results = _measure(args, Path(tmp))
    _report(results)
    results["machine"] = info
    results["settings"] = {k: str(v) for k, v in vars(args).items()}
    out = args.out / "mirror-overhead.json"
    out.write_text(json.dumps(results, indent=2, default=float))
    print(f"\nwrote {out}")
    failed = results["off"]["errors"] + results["on"]["errors"]
    if failed:
        raise SystemExit(f"{failed} requests to the champion failed")


if __name__ == "__main__":
    main()
