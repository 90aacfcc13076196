"""Past saturation: our server under a closed-loop and an open-loop overload, then recovery.

Closed loop: many more connections than admitted places. Open loop: a constant arrival rate at
twice the capacity just measured, as a traffic spike arrives. Reported: the admitted requests'
p99 against the p99 at saturation, shed answers (503) apart from any other error, resident
memory before and after, and throughput right after the load drops.
"""

from __future__ import annotations

from typing import Any

from . import loadgen
from .servers import Running

DEFAULT_LIMIT = 128  # MODEL_SERVER_MAX_PENDING_REQUESTS by default
# The concurrency at which saturation is measured (wrk, 32 connections): admitted requests then
# wait about as long as at saturation (Little's law), where 128 admitted wait four times longer.
TIGHT_LIMIT = 32


def measure(
    running: Running, url: str, body: bytes, vegeta: str, capacity_rps: float, seconds: float,
    limit: int = DEFAULT_LIMIT,
) -> dict[str, Any]:  # fmt: skip
    rss_before = running.rss_mb()
    saturated = loadgen.wrk(url, body, 32, seconds)
    # vegeta with rate 0 is closed loop: each of its workers sends as soon as it is answered.
    closed = loadgen.vegeta(vegeta, url, body, 0, seconds, workers=512)
    rate = max(10, round(2 * capacity_rps))
    opened = loadgen.vegeta(vegeta, url, body, rate, seconds)
    rss_after = running.rss_mb()
    recovered = loadgen.wrk(url, body, 32, 2)
    return {
        "max_pending_requests": limit,
        "saturation": saturated.as_dict(),
        "closed_loop_512_workers": closed.as_dict(),
        "open_loop_2x_capacity": opened.as_dict(),
        "recovery_2s": recovered.as_dict(),
        "rss_mb_before": rss_before,
        "rss_mb_after": rss_after,
    }


def print_summary(result: dict[str, Any]) -> None:
    sat = result["saturation"]
    limit = result.get("max_pending_requests", DEFAULT_LIMIT)
    print(f"\noverload (ours, forest, 1-row requests, {limit} admitted at most; admitted = "
          "answered 200)")  # fmt: skip
    print(f"  saturation, wrk 32 connections: {sat['rps']:,.0f} req/s, p99 {sat['p99_ms']:.1f} ms")
    for key, label in (("closed_loop_512_workers", "closed loop, 512 workers"),
                       ("open_loop_2x_capacity", "open loop at 2x capacity")):  # fmt: skip
        run = result[key]
        adm = run["admitted"]
        print(f"  {label}: sent {run['sent']:,} in {run['seconds']:.0f} s, admitted "
              f"{adm['rps']:,.0f} req/s at p99 {adm['p99_ms']:.1f} ms "
              f"({adm['p99_ms'] / sat['p99_ms']:.2f}x saturation), shed {run['shed']:,}, "
              f"other errors {run['other_errors']}")  # fmt: skip
    rec = result["recovery_2s"]
    print(f"  right after: {rec['rps']:,.0f} req/s ({rec['rps'] / sat['rps']:.2f}x saturation); "
          f"RSS {result['rss_mb_before']:.0f} -> {result['rss_mb_after']:.0f} MiB")  # fmt: skip
