"""Online gate values from two samples of the serving pods' counters (pure arithmetic).

Each pod's increase is taken on its own, as Prometheus' `increase()` does: a pod in both samples
adds its delta (all of its counters when they went back to zero: a restart), a pod in only one
of them adds nothing. The p95 is interpolated inside the histogram bucket the way Prometheus'
`histogram_quantile` does, so it matches what a dashboard shows for the same window.
"""

from __future__ import annotations

from .ports import LiveSample, PodCounters

LATENCY_P95 = "latency_p95_ms"
LATENCY_P50 = "latency_p50_ms"
ERROR_RATE = "error_rate"
REQUESTS = "requests"
MEMORY_WORKING_SET = "memory_working_set_mb"
MEMORY_LIMIT_RATIO = "memory_limit_ratio"
ONLINE_METRICS = (
    LATENCY_P95, LATENCY_P50, ERROR_RATE, REQUESTS, MEMORY_WORKING_SET, MEMORY_LIMIT_RATIO,
)  # fmt: skip
_MIB = 1024 * 1024


def window_values(before: LiveSample, after: LiveSample) -> dict[str, float | None]:
    """Each online metric over the window between the samples; None where there is no data."""
    return {**_traffic_values(before, after), **memory_values(after)}


def memory_values(sample: LiveSample) -> dict[str, float | None]:
    """The hungriest pod at the sample: its working set (MiB) and its share of its limit (a pod
    without a limit reports none). Gauges, so the window's last sample is what counts."""
    pods = sample.pods.values()
    working_sets = [p.memory_bytes for p in pods if p.memory_bytes is not None]
    ratios = [
        p.memory_bytes / p.memory_limit_bytes
        for p in pods
        if p.memory_bytes is not None and p.memory_limit_bytes
    ]
    return {
        MEMORY_WORKING_SET: max(working_sets) / _MIB if working_sets else None,
        MEMORY_LIMIT_RATIO: max(ratios) if ratios else None,
    }


def _traffic_values(before: LiveSample, after: LiveSample) -> dict[str, float | None]:
    increases = [
        _increase(before.pods[pod], counters)
        for pod, counters in after.pods.items()
        if pod in before.pods
    ]
    requests = sum(i.requests for i in increases)
    if requests <= 0:  # no traffic (or no pod seen twice): no data, never zero latency
        return {LATENCY_P95: None, LATENCY_P50: None, ERROR_RATE: None, REQUESTS: 0.0}
    buckets: dict[float, float] = {}
    for increase in increases:
        for le, count in increase.buckets.items():
            buckets[le] = buckets.get(le, 0.0) + count
    return {
        LATENCY_P95: _quantile_ms(0.95, buckets),
        LATENCY_P50: _quantile_ms(0.50, buckets),
        ERROR_RATE: sum(i.errors for i in increases) / requests,
        REQUESTS: requests,
    }


def _increase(before: PodCounters, after: PodCounters) -> PodCounters:
    if after.requests < before.requests:  # the pod restarted: everything it counted is new
        return after
    return PodCounters(
        after.requests - before.requests,
        max(0.0, after.errors - before.errors),
        {le: count - before.buckets.get(le, 0.0) for le, count in after.buckets.items()},
    )  # (memory gauges are read from the sample itself, not differenced)


def _quantile_ms(q: float, buckets: dict[float, float]) -> float | None:
    ordered = sorted(buckets.items())
    if not ordered or ordered[-1][1] <= 0:
        return None
    total = ordered[-1][1]
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for upper_bound, count in ordered:
        if count >= rank:
            if upper_bound == float("inf"):
                return lower_bound * 1000  # as Prometheus: the highest finite bound
            in_bucket = count - lower_count
            fraction = (rank - lower_count) / in_bucket if in_bucket > 0 else 1.0
            return (lower_bound + (upper_bound - lower_bound) * fraction) * 1000
        lower_bound, lower_count = upper_bound, count
    return None
