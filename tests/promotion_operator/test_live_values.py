"""Online values from two samples: p95 interpolated like Prometheus, error rate, no data."""

from __future__ import annotations

import pytest

from promotion_operator.live import parse_sample
from promotion_operator.live_values import window_values
from promotion_operator.ports import LiveSample

INF = float("inf")


def sample(requests: float, errors: float, buckets: dict[float, float]) -> LiveSample:
    return LiveSample(1, requests, errors, buckets)


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


def test_counter_reset_is_no_data() -> None:
    values = window_values(sample(500, 0, {INF: 500}), sample(20, 0, {INF: 20}))
    assert values["latency_p95_ms"] is None


def test_parse_sample_sums_inference_routes_over_pods() -> None:
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
    summed = parse_sample([page, page])
    assert summed.pods == 2
    assert summed.requests == 20
    assert summed.errors == 4
    assert summed.buckets == {0.01: 18.0, INF: 20.0}
