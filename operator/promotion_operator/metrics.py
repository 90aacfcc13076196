"""The operator's Prometheus metrics: promotions by result, gate values, time per phase."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server


class OperatorMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.promotions = Counter(
            "mlrollout_promotions", "Concluded promotions by result.",
            ["namespace", "promotion", "result"], registry=r,
        )  # fmt: skip
        self.gate_value = Gauge(
            "mlrollout_gate_value", "Last measured value of each gate.",
            ["namespace", "promotion", "gate"], registry=r,
        )  # fmt: skip
        self.gate_threshold = Gauge(
            "mlrollout_gate_threshold", "Effective threshold of each gate.",
            ["namespace", "promotion", "gate"], registry=r,
        )  # fmt: skip
        self.phase_seconds = Histogram(
            "mlrollout_phase_duration_seconds", "Time spent in each promotion phase.",
            ["phase"], buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800), registry=r,
        )  # fmt: skip

    def serve(self, port: int) -> None:
        start_http_server(port, registry=self.registry)

    def record(
        self, namespace: str, name: str, old: dict[str, Any], new: dict[str, Any], now: datetime
    ) -> None:
        """Observe what changed between two statuses of one resource."""
        for gate in new.get("gates", []):
            labels = (namespace, name, gate.get("name", "?"))
            if gate.get("value") is not None:
                self.gate_value.labels(*labels).set(gate["value"])
            if gate.get("threshold") is not None:
                self.gate_threshold.labels(*labels).set(gate["threshold"])
        if old.get("phase") == new.get("phase"):
            return
        since = old.get("phaseSince")
        if old.get("phase") and since:
            started = datetime.strptime(since, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=now.tzinfo)
            self.phase_seconds.labels(old["phase"]).observe((now - started).total_seconds())
        history = new.get("history") or []
        if len(history) > len(old.get("history") or []) or (
            history and history[0] != (old.get("history") or [None])[0]
        ):
            self.promotions.labels(namespace, name, history[0]["outcome"]).inc()
