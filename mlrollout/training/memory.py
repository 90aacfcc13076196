"""What serving a model costs in memory, measured, not guessed: a fresh Python process loads
the model as MLflow serves it (`mlflow.pyfunc.load_model`), predicts a warm-up batch, and
reports its resident set. A model that allocates on its first prediction is caught here too.

- `memory_rss_mb`: the process's peak resident set (VmHWM) after load and warm-up: what a
  container's memory limit must hold;
- `memory_model_mb`: its resident set after warm-up minus before the load (with the flavour's
  libraries already imported): the model's own share, for gates relative to a champion.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

WARMUP_ROWS = 256

_PROBE = r"""
import json, sys

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return float(line.split()[1]) / 1024  # kB -> MiB

import importlib, mlflow.pyfunc, pandas, yaml

# The flavour's libraries are loaded before the baseline: they are the server's, not the model's.
flavors = yaml.safe_load(open(sys.argv[1] + "/MLmodel"))["flavors"]
for module in {"sklearn": ["mlflow.sklearn", "sklearn.ensemble", "sklearn.linear_model",
                           "skops.io"], "xgboost": ["mlflow.xgboost", "xgboost"]}.get(
        next((f for f in flavors if f != "python_function"), ""), []):
    importlib.import_module(module)
before = status("VmRSS")
model = mlflow.pyfunc.load_model(sys.argv[1])
model.predict(pandas.read_json(sys.argv[2], orient="split"))
warm = status("VmRSS")
print(json.dumps({"before": before, "warm": warm, "peak": status("VmHWM")}))
"""


class MemoryProbeError(RuntimeError):
    """The probe process could not load or run the model."""


def serving_memory(model_dir: Path, features: Any, seed: int = 0) -> dict[str, float]:
    """`memory_rss_mb` and `memory_model_mb` of the MLflow model saved in ``model_dir``."""
    batch = features.sample(WARMUP_ROWS, replace=True, random_state=seed)
    batch_file = model_dir.parent / "warmup-batch.json"
    batch_file.write_text(batch.to_json(orient="split"))
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, str(model_dir), str(batch_file)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise MemoryProbeError(
            f"measuring the model's memory failed: {result.stderr.strip()[-1500:]}"
        )
    probe = json.loads(result.stdout.strip().splitlines()[-1])
    return {
        "memory_rss_mb": round(probe["peak"], 1),
        "memory_model_mb": round(max(0.0, probe["warm"] - probe["before"]), 1),
    }
