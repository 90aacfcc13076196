"""Online values from two samples: p95 interpolated like Prometheus, error rate, no data, and
pods judged one by one (scale-in, restarts)."""

from __future__ import annotations

import pytest

from promotion_operator.live import parse_pod
from promotion_operator.live_values import window_values
from promotion_operator.ports import LiveSample, PodCounters

INF = float("inf")


def sample(requests: float, errors: float, buckets: dict[float, float]) -> LiveSample:
    """One pod, `p`."""
    return LiveSample({"p": PodCounters(requests, errors, buckets)})


def test_p95_and_error_rate_over_the_window() -> None:
    before = sample(100, 1, {0.005: 90, 0.01: 100, 0.025: 100, INF: 100})
    after = sample(200, 3, {0.005: 100, 0.01: 180, 0.025: 200, INF: 200})
    values = window_values(before, after)
    # window (cumulative): 10 ≤ 5 ms, 80 ≤ 10 ms, 100 ≤ 25 ms. Rank 95 lies 15/20 into
    # (10, 25] → 21.25 ms; rank 50 lies 40/70 into (5, 10].
    assert values["latency_p95_ms"] == pytest.approx(21.25)
    assert values["latency_p50_ms"] == pytest.approx(5 + 5 * 40 / 70)
    assert values["error_rate"] == pytest.approx(0.02)
    assert values["requests"] == 100


def test_no_traffic_is_no_data_not_zero_latency() -> None:
    same = sample(10, 0, {0.005: 10, INF: 10})
    values = window_values(same, same)
    assert values["latency_p95_ms"] is None
    assert values["error_rate"] is None


def test_a_restarted_pod_counts_from_zero() -> None:
    """Its counters went back to zero: everything it counted since is in the window."""
    values = window_values(
        sample(500, 0, {0.01: 500, INF: 500}), sample(20, 1, {0.01: 20, INF: 20})
    )
    assert values["requests"] == 20
    assert values["error_rate"] == pytest.approx(0.05)
    assert values["latency_p95_ms"] is not None


def test_a_pod_leaving_the_ready_set_does_not_blank_the_window() -> None:
    """Scale-in: pod b is gone from the second sample; pod a's own increase still counts."""
    a1, a2 = PodCounters(100, 0, {0.01: 100, INF: 100}), PodCounters(160, 3, {0.01: 160, INF: 160})
    b1 = PodCounters(900, 0, {0.01: 900, INF: 900})
    values = window_values(LiveSample({"a": a1, "b": b1}), LiveSample({"a": a2}))
    assert values["requests"] == 60
    assert values["error_rate"] == pytest.approx(0.05)
    assert values["latency_p95_ms"] is not None


def test_a_new_pod_counts_from_its_second_sample() -> None:
    before = LiveSample({"a": PodCounters(100, 0, {INF: 100})})
    after = LiveSample(
        {"a": PodCounters(150, 0, {INF: 150}), "new": PodCounters(40, 40, {INF: 40})}
    )
    values = window_values(before, after)
    assert values["requests"] == 50
    assert values["error_rate"] == 0.0


def test_parse_pod_reads_the_inference_routes_only() -> None:
    latency = "mlrollout_model_server_request_duration_seconds"
    post = 'method="POST",route="/predict"'
    page = f"""
# TYPE mlrollout_model_server_requests counter
mlrollout_model_server_requests_total{{{post},status="200"}} 8.0
mlrollout_model_server_requests_total{{{post},status="500"}} 2.0
mlrollout_model_server_requests_total{{method="GET",route="/v2",status="200"}} 50.0
# TYPE {latency} histogram
{latency}_bucket{{le="0.01",{post}}} 9.0
{latency}_bucket{{le="+Inf",{post}}} 10.0
{latency}_count{{{post}}} 10.0
{latency}_sum{{{post}}} 0.05
"""
    counters = parse_pod(page)
    assert counters.requests == 10
    assert counters.errors == 2
    assert counters.buckets == {0.01: 9.0, INF: 10.0}


def test_memory_is_the_hungriest_pods_at_the_sample() -> None:
    mib = 1024 * 1024
    pods = {
        "a": PodCounters(10, 0, memory_bytes=300 * mib, memory_limit_bytes=1000 * mib),
        "b": PodCounters(10, 0, memory_bytes=200 * mib, memory_limit_bytes=250 * mib),
        "c": PodCounters(10, 0),  # an older server reports no memory
    }
    values = window_values(LiveSample(pods), LiveSample(pods))
    assert values["memory_working_set_mb"] == 300
    assert values["memory_limit_ratio"] == 0.8  # b: 200 of 250 MiB
    unlimited = {"a": PodCounters(1, 0, memory_bytes=5 * mib)}
    values = window_values(LiveSample(unlimited), LiveSample(unlimited))
    assert values["memory_working_set_mb"] == 5
    assert values["memory_limit_ratio"] is None  # no limit: no ratio, never 0


def test_parse_pod_reads_the_memory_gauges() -> None:
    page = (
        "# TYPE mlrollout_model_server_memory_working_set_bytes gauge\n"
        'mlrollout_model_server_memory_working_set_bytes{source="cgroup"} 1.5e+08\n'
        "# TYPE mlrollout_model_server_memory_limit_bytes gauge\n"
        "mlrollout_model_server_memory_limit_bytes 5.36870912e+08\n"
    )
    pod = parse_pod(page)
    assert (pod.memory_bytes, pod.memory_limit_bytes) == (1.5e8, 536870912)
    assert parse_pod("").memory_bytes is None


def test_parse_pod_reads_the_mirror_counters() -> None:
    mirror = "mlrollout_model_server_mirror"
    page = f"""
# TYPE {mirror}_requests counter
{mirror}_requests_total{{outcome="sent"}} 90.0
{mirror}_requests_total{{outcome="dropped"}} 7.0
# TYPE {mirror}_rows counter
{mirror}_rows_total 120.0
# TYPE {mirror}_agreed_rows counter
{mirror}_agreed_rows_total 100.0
# TYPE {mirror}_predictions counter
{mirror}_predictions_total{{side="champion",label="1"}} 60.0
{mirror}_predictions_total{{side="candidate",label="1"}} 40.0
mlrollout_model_server_requests_total{{method="POST",route="/mirror",status="200"}} 90.0
"""
    counters = parse_pod(page)
    assert counters.requests == 90  # a shadow's traffic is its mirrored requests
    assert counters.mirror.outcomes == {"sent": 90, "dropped": 7}
    assert (counters.mirror.rows, counters.mirror.agreed) == (120, 100)
    assert counters.mirror.labels == {("champion", "1"): 60, ("candidate", "1"): 40}
