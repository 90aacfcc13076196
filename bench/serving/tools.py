"""The native tools the benchmarks drive, installed or cached by hack/bench-tools.sh."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HACK = Path(__file__).resolve().parents[2] / "hack"


def bench_tools(with_mlserver: bool, which: str = "") -> dict[str, str]:
    """{"VEGETA": path, "MLSERVER": path (when asked)}; wrk is installed on the PATH.
    ``which="kwok"``: {"KWOK": path} only."""
    which = which or ("all" if with_mlserver else "load")
    # The MLServer environment pins the libraries of *this* interpreter (the models' own).
    env = {**os.environ, "BENCH_PYTHON": sys.executable}
    out = subprocess.run([str(HACK / "bench-tools.sh"), which], capture_output=True, text=True,
                         env=env, check=False)  # fmt: skip
    sys.stderr.write(out.stderr)
    if out.returncode:
        raise SystemExit("hack/bench-tools.sh failed (see above)")
    return dict(line.split("=", 1) for line in out.stdout.split())
