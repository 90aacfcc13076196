"""The comparison table and the machine-readable summary of a training session."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from .runner import Result


def run_url(tracking_uri: str, experiment_id: str, run_id: str) -> str | None:
    if not tracking_uri.startswith(("http://", "https://")):
        return None
    return f"{tracking_uri.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}"


def summary(
    results: list[Result],
    best: Result | None,
    *,
    tracking_uri: str,
    experiment_id: str,
    registered_model: str,
) -> dict[str, Any]:
    return {
        "tracking_uri": tracking_uri,
        "experiment_id": experiment_id,
        "registered_model": registered_model,
        "runs": [
            {
                "algorithm": r.algorithm,
                "run_id": r.run_id,
                "version": r.version,
                "metrics": r.metrics,
                "slo": {k: "met" if v else "missed" for k, v in r.slo.items()},
                "slo_compliant": r.compliant,
                "run_url": run_url(tracking_uri, experiment_id, r.run_id),
            }
            for r in results
        ],
        "champion": None
        if best is None
        else {"algorithm": best.algorithm, "version": best.version},
    }


def print_table(console: Console, results: list[Result], best: Result | None) -> None:
    table = Table(title="mlrollout training demo")
    for column in ("algorithm", "version", "accuracy", "f1", "roc_auc", "p50 ms", "p95 ms",
                   "size KB", "RSS MB", "SLOs", ""):  # fmt: skip
        table.add_column(column, justify="left" if column == "algorithm" else "right")
    for r in results:
        m = r.metrics
        missed = [name for name, ok in r.slo.items() if not ok]
        table.add_row(
            r.algorithm, r.version, f"{m['accuracy']:.4f}", f"{m['f1']:.4f}",
            f"{m['roc_auc']:.4f}", f"{m['latency_p50_ms']:.3f}", f"{m['latency_p95_ms']:.3f}",
            f"{m['model_size_bytes'] / 1024:.0f}", f"{m['memory_rss_mb']:.0f}",
            "met" if not missed else "missed: " + ", ".join(missed),
            "champion" if best is not None and r is best else "",
        )  # fmt: skip
    console.print(table)
    if best is None:
        console.print("no model met every SLO: there is no champion")
