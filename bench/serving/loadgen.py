"""The load generators: wrk (closed loop: N connections, each sends when answered) and vegeta
(open loop: a fixed arrival rate, whatever the server does, which is what a traffic spike is).

Both are native; a Python client tops out near the rates it is meant to measure.
"""

from __future__ import annotations

import csv
import json
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

# wrk runs this: POST the body file, and print one JSON line with its own figures at the end.
_WRK_SCRIPT = """
local f = assert(io.open(os.getenv("WRK_BODY_FILE"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,' ..
    '"status":%d,"timeout":%d,"p50_us":%d,"p95_us":%d,"p99_us":%d,"max_us":%d}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))
end
"""


@dataclass(frozen=True)
class LoadResult:
    requests: int  # answered (any status)
    errors: int  # transport errors, timeouts and non-2xx answers
    seconds: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, float]:
        return {**asdict(self), "rps": self.rps}


def wrk(url: str, body: bytes, connections: int, seconds: float, timeout_s: int = 10) -> LoadResult:
    with tempfile.TemporaryDirectory() as tmp:
        script, body_file = Path(tmp) / "post.lua", Path(tmp) / "body.json"
        script.write_text(_WRK_SCRIPT)
        body_file.write_bytes(body)
        threads = min(2, connections)
        out = subprocess.run(
            ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s",
             f"--timeout={timeout_s}s", "-s", str(script), url],
            env={"WRK_BODY_FILE": str(body_file), "PATH": "/usr/bin:/bin"},
            capture_output=True, text=True, check=True,
        )  # fmt: skip
    line = next(ln for ln in out.stdout.splitlines() if ln.startswith("WRK_JSON "))
    raw = json.loads(line.removeprefix("WRK_JSON "))
    errors = sum(raw[k] for k in ("connect", "read", "write", "status", "timeout"))
    return LoadResult(
        requests=raw["requests"], errors=errors, seconds=raw["duration_us"] / 1e6,
        p50_ms=raw["p50_us"] / 1e3, p95_ms=raw["p95_us"] / 1e3, p99_ms=raw["p99_us"] / 1e3,
        max_ms=raw["max_us"] / 1e3,
    )  # fmt: skip


@dataclass(frozen=True)
class OpenLoopResult:
    rate: float  # the arrival rate asked for
    sent: int
    seconds: float
    admitted: LoadResult  # 2xx answers only
    shed: int  # 429/503 answers (refused at once by design)
    other_errors: int  # anything else: transport errors, timeouts, other statuses

    def as_dict(self) -> dict[str, object]:
        return {
            "rate": self.rate, "sent": self.sent, "seconds": self.seconds,
            "admitted": self.admitted.as_dict(), "shed": self.shed,
            "other_errors": self.other_errors,
        }  # fmt: skip


def vegeta(
    binary: str,
    url: str,
    body: bytes,
    rate: int,
    seconds: float,
    workers: int = 0,
    timeout_s: int = 10,
) -> OpenLoopResult:
    """``rate`` requests/s whatever the answers (open loop); rate 0 with ``workers`` is closed."""
    with tempfile.TemporaryDirectory() as tmp:
        body_file, targets = Path(tmp) / "body.json", Path(tmp) / "targets"
        body_file.write_bytes(body)
        targets.write_text(f"POST {url}\nContent-Type: application/json\n@{body_file}\n")
        attack = subprocess.run(
            [binary, "attack", f"-rate={rate}/s", f"-duration={seconds}s",
             f"-timeout={timeout_s}s", f"-targets={targets}",
             *([f"-workers={workers}", f"-max-workers={workers}"] if workers else
               ["-max-workers=4096"])],
            capture_output=True, check=True,
        )  # fmt: skip
        encoded = subprocess.run(
            [binary, "encode", "--to", "csv"], input=attack.stdout, capture_output=True,
            check=True,
        )  # fmt: skip
    codes, latencies_ms, stamps = [], [], []
    for row in csv.reader(encoded.stdout.decode().splitlines()):
        stamps.append(int(row[0]))
        codes.append(int(row[1]))
        latencies_ms.append(int(row[2]) / 1e6)
    code = np.asarray(codes)
    latency = np.asarray(latencies_ms)
    span = (max(stamps) - min(stamps)) / 1e9 if stamps else 0.0
    ok = latency[(code >= 200) & (code < 300)]
    shed = int(np.isin(code, (429, 503)).sum())

    def pct(q: float) -> float:
        return float(np.percentile(ok, q)) if ok.size else float("nan")

    admitted = LoadResult(
        requests=int(ok.size), errors=0, seconds=span or seconds, p50_ms=pct(50),
        p95_ms=pct(95), p99_ms=pct(99), max_ms=float(ok.max()) if ok.size else float("nan"),
    )  # fmt: skip
    other = len(codes) - int(ok.size) - shed
    return OpenLoopResult(float(rate), len(codes), seconds, admitted, shed, other)
