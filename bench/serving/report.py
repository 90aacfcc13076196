"""The results as a terminal table, a JSON file with every figure, and a PNG plot."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any


def machine() -> dict[str, Any]:
    cpu = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [ln.split(":", 1)[1].strip() for ln in cpuinfo.read_text().splitlines()
                 if ln.startswith("model name")]  # fmt: skip
        cpu = names[0] if names else cpu
    mem_kib = 0
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        mem_kib = int(meminfo.read_text().split("MemTotal:")[1].split()[0])
    return {"cpu": cpu, "cpus": os.cpu_count(), "memory_gib": round(mem_kib / 2**20, 1),
            "python": platform.python_version(), "kernel": platform.release()}  # fmt: skip


def print_machine(info: dict[str, Any]) -> None:
    print(f"machine: {info['cpus']} x {info['cpu']}, {info['memory_gib']} GiB, "
          f"Python {info['python']}, kernel {info['kernel']}; the load generator shares "
          "these cores with the server")  # fmt: skip


def print_points(model: str, rows: int, points: list[dict[str, Any]]) -> None:
    print(f"\n{model}, {rows}-row requests (mean of the repeats)")
    head = f"{'server':<32} {'conns':>5} {'req/s':>9} {'rows/s':>10} {'p50 ms':>8} "
    print(head + f"{'p95 ms':>8} {'p99 ms':>8} {'errors':>6} {'RSS MiB':>8}")
    for p in points:
        print(f"{p['server']:<32} {p['connections']:>5} {p['rps']:>9,.0f} "
              f"{p['rps'] * rows:>10,.0f} {p['p50_ms']:>8.2f} {p['p95_ms']:>8.2f} "
              f"{p['p99_ms']:>8.2f} {p['errors']:>6} {p['rss_mb']:>8.0f}")  # fmt: skip


def write_json(path: Path, results: dict[str, Any]) -> None:
    path.write_text(json.dumps(results, indent=2, default=float))


def plot(path: Path, points: list[dict[str, Any]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = sorted({(p["model"], p["rows"]) for p in points})
    fig, axes = plt.subplots(len(panels), 2, figsize=(11, 3.6 * len(panels)), squeeze=False)
    for (model, rows), (left, right) in zip(panels, axes, strict=True):
        for server in dict.fromkeys(p["server"] for p in points):
            mine = [
                p for p in points if (p["model"], p["rows"], p["server"]) == (model, rows, server)
            ]
            if not mine:
                continue
            conns = [p["connections"] for p in mine]
            left.plot(conns, [p["rps"] * rows for p in mine], marker="o", label=server)
            right.plot(conns, [p["p99_ms"] for p in mine], marker="o", label=server)
        left.set(title=f"{model}, {rows}-row requests: throughput", xlabel="connections",
                 ylabel="rows/s", xscale="log", yscale="log")  # fmt: skip
        right.set(title=f"{model}, {rows}-row requests: p99 latency", xlabel="connections",
                  ylabel="p99 ms", xscale="log", yscale="log")  # fmt: skip
        left.legend(fontsize=7)
        for axis in (left, right):
            axis.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
