"""What the operator bench reads around a run: a process's CPU and peak memory, the API server's
request counters, and the MLflow server's access log."""

from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class ProcessSample:
    cpu_seconds: float  # user + system since the process started
    rss_mb: float
    peak_rss_mb: float  # VmHWM: the high-water mark since start


def sample(pid: int) -> ProcessSample:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime
    status = Path(f"/proc/{pid}/status").read_text()

    def kib(key: str) -> float:
        match = re.search(rf"^{key}:\s+(\d+) kB", status, re.M)
        return int(match.group(1)) / 1024 if match else 0.0

    return ProcessSample(cpu, kib("VmRSS"), kib("VmHWM"))


def tree_cpu_seconds(root: int) -> float:
    """CPU seconds of ``root`` and every live process under it (a server and its workers)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(stat.parent.name))
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        try:
            total += sample(pid).cpu_seconds
        except OSError:
            continue
        todo.extend(children.get(pid, []))
    return total


_REQUEST = re.compile(r"^apiserver_request_total\{(?P<labels>[^}]*)\} (?P<value>[0-9.e+]+)$", re.M)


def apiserver_requests(metrics_text: str) -> Counter[str]:
    """`verb resource` → requests served so far, from the API server's /metrics."""
    counts: Counter[str] = Counter()
    for match in _REQUEST.finditer(metrics_text):
        labels = dict(re.findall(r'(\w+)="([^"]*)"', match.group("labels")))
        counts[f"{labels.get('verb', '?')} {labels.get('resource', '?')}"] += int(
            float(match.group("value"))
        )
    return counts


_ACCESS = re.compile(r'"(GET|POST|PATCH|DELETE|PUT) (/[^ ?"]*)')


def mlflow_requests(log_text: str) -> Counter[str]:
    """`METHOD path` → requests, from the uvicorn access lines of an MLflow server's log."""
    return Counter(f"{m.group(1)} {m.group(2)}" for m in _ACCESS.finditer(log_text))
