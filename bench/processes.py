"""A process and the processes under it, read from /proc: CPU seconds and resident memory.

Servers fork workers (MLServer's inference pool, uvicorn under `mlflow models serve` and
`mlflow server`), so the benchmarks measure a process tree, not one pid.
"""

from __future__ import annotations

import contextlib
import os
import re
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

    def mib(key: str) -> float:
        match = re.search(rf"^{key}:\s+(\d+) kB", status, re.M)
        return int(match.group(1)) / 1024 if match else 0.0

    return ProcessSample(cpu, mib("VmRSS"), mib("VmHWM"))


def tree(root: int) -> list[int]:
    """``root`` and every process under it, as /proc shows them now."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(stat.parent.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def tree_samples(root: int) -> list[ProcessSample]:
    """A sample of each live process of the tree (one that exits meanwhile is left out)."""
    samples = []
    for pid in tree(root):
        with contextlib.suppress(OSError):
            samples.append(sample(pid))
    return samples


def machine_busy_seconds() -> float:
    """CPU seconds every core of the machine spent busy since boot (/proc/stat: all but idle and
    iowait), so a window's difference shows how much of the machine a run used."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / _TICKS  # guest time is already inside user
