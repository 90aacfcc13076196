"""The operator's Prometheus metrics: promotions by result, gate values, time per phase.

Recorded from what a reconcile pass did (its phase changes and verdicts), after the driver
has written the pass's status; nothing is inferred by comparing statuses.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from .promotion_pass import PassResult

_PER_GATE = ["namespace", "promotion", "gate"]


class OperatorMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.promotions = Counter(
            "mlrollout_promotions", "Concluded promotions by result.",
            ["namespace", "promotion", "result"], registry=r,
        )  # fmt: skip
        self.gate_value = Gauge("mlrollout_gate_value", "Last measured value of each gate.",
                                _PER_GATE, registry=r)  # fmt: skip
        self.gate_threshold = Gauge("mlrollout_gate_threshold", "Effective threshold of each gate.",
                                    _PER_GATE, registry=r)  # fmt: skip
        self.phase_seconds = Histogram(
            "mlrollout_phase_duration_seconds", "Time spent in each promotion phase.",
            ["phase"], buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800), registry=r,
        )  # fmt: skip

    def serve(self, port: int) -> None:
        start_http_server(port, registry=self.registry)

    def record(self, namespace: str, name: str, result: PassResult) -> None:
        """Observe one persisted pass of one resource."""
        for gate in result.status.gates:
            labels = (namespace, name, gate.name)
            if gate.value is not None:
                self.gate_value.labels(*labels).set(gate.value)
            if gate.threshold is not None:
                self.gate_threshold.labels(*labels).set(gate.threshold)
        for change in result.changes:
            if change.left is not None and change.seconds_in_left is not None:
                self.phase_seconds.labels(change.left.value).observe(change.seconds_in_left)
        for outcome in result.outcomes:
            self.promotions.labels(namespace, name, outcome.value).inc()
