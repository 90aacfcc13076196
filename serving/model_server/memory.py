"""The server's memory as the kubelet judges it: the container's working set and its limit.

In a pod the working set is the container cgroup's usage minus its inactive file cache (what
cAdvisor reports, what an OOM kill and `kubectl top` go by), read from cgroup v2
(`memory.current`, `memory.max`) or v1 (`memory.usage_in_bytes`, `memory.limit_in_bytes`).
Outside a pod (a laptop, the tests) there is no container cgroup of the server's own, so it is
the process's resident set and no limit.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# cgroup v1 writes "no limit" as a huge page-aligned number (2^63 - 4096 on 64-bit).
_UNLIMITED_V1 = 1 << 60


@dataclass(frozen=True)
class MemoryReading:
    working_set_bytes: float
    limit_bytes: float | None  # None: no limit, or not in a container
    source: str  # "cgroup" | "process"


def read_memory(
    cgroup_root: Path = Path("/sys/fs/cgroup"), in_pod: bool | None = None
) -> MemoryReading:
    if in_pod is None:
        in_pod = "KUBERNETES_SERVICE_HOST" in os.environ
    if in_pod:
        for reader in (_cgroup_v2, _cgroup_v1):
            reading = reader(cgroup_root)
            if reading is not None:
                return reading
    return MemoryReading(_resident_bytes(), None, "process")


def _cgroup_v2(root: Path) -> MemoryReading | None:
    try:
        usage = float((root / "memory.current").read_text())
        limit = (root / "memory.max").read_text().strip()
        inactive = _stat(root / "memory.stat", "inactive_file")
    except (OSError, ValueError):
        return None
    return MemoryReading(
        max(0.0, usage - inactive), None if limit == "max" else float(limit), "cgroup"
    )


def _cgroup_v1(root: Path) -> MemoryReading | None:
    memory = root / "memory"
    try:
        usage = float((memory / "memory.usage_in_bytes").read_text())
        limit = float((memory / "memory.limit_in_bytes").read_text())
        inactive = _stat(memory / "memory.stat", "total_inactive_file")
    except (OSError, ValueError):
        return None
    return MemoryReading(
        max(0.0, usage - inactive), None if limit >= _UNLIMITED_V1 else limit, "cgroup"
    )


def _stat(path: Path, key: str) -> float:
    for line in path.read_text().splitlines():
        name, _, value = line.partition(" ")
        if name == key:
            return float(value)
    return 0.0


def _resident_bytes() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return float(line.split()[1]) * 1024  # kB
    return 0.0
