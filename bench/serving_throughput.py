"""Single-row throughput of the model server: fast path vs the model as trained.

Trains a 100-tree RandomForest with ``n_jobs=-1`` (how people train it), serves it from a real
`python -m model_server` process twice, and drives single-row `/predict` requests over loopback:
- "as trained": the model's own n_jobs and no micro-batching (the slow path);
- "fast path": n_jobs overridden, the packed forest, micro-batching (the defaults).
The reference is the slow path measured in the same run; in-process timings of the model show
the ceiling. Load generator and server share this machine's cores, so read ratios, not absolutes.

Run: `make bench` (or `python -m bench.serving_throughput --seconds 10 --concurrency 16`).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from mlrollout.tracking_server import free_port


@dataclass(frozen=True)
class Result:
    label: str
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def pct(self, q: float) -> float:
        return float(np.percentile(self.latencies_ms, q)) if self.latencies_ms else float("nan")


def build_model(path: Path) -> tuple[Any, list[float]]:
    import mlflow.sklearn
    import skops.io
    from mlflow.models import infer_signature
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import RandomForestClassifier

    x, y = load_breast_cancer(return_X_y=True, as_frame=True)
    model = RandomForestClassifier(n_estimators=100, n_jobs=-1, random_state=0).fit(x, y)
    example = x.iloc[:3]
    mlflow.sklearn.save_model(
        model, str(path), serialization_format="skops",
        skops_trusted_types=skops.io.get_untrusted_types(data=skops.io.dumps(model)),
        signature=infer_signature(example, model.predict(example)), input_example=example,
    )  # fmt: skip
    return model, [float(v) for v in x.iloc[0]]


def in_process_ms(fn: Any, repeat: int = 200) -> float:
    for _ in range(10):
        fn()
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat * 1e3


async def drive(url: str, row: list[float], seconds: float, concurrency: int) -> Result:
    body = {"instances": [row]}
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                response = await client.post(url, json=body)
                latencies.append((time.perf_counter() - start) * 1e3)
                errors += response.status_code != 200

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return Result("", len(latencies), errors, elapsed, latencies)


def serve_and_measure(
    label: str, model_dir: Path, env: dict[str, str], row: list[float], args: argparse.Namespace
) -> Result:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "model_server"],
        env={**os.environ, "MODEL_SERVER_MODEL_URI": str(model_dir), "MODEL_SERVER_PORT": str(port),
             "MODEL_SERVER_HOST": "127.0.0.1", "MODEL_SERVER_LOG_LEVEL": "warning", **env},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/v2/health/ready").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise SystemExit(f"{label}: server did not become ready")
            time.sleep(0.1)
        asyncio.run(drive(f"{base}/predict", row, 1.0, args.concurrency))  # warm-up
        result = asyncio.run(drive(f"{base}/predict", row, args.seconds, args.concurrency))
        print(f"  measured {label}: {result.rps:,.0f} req/s", flush=True)
        return Result(label, result.requests, result.errors, result.seconds, result.latencies_ms)
    finally:
        process.terminate()
        process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="load duration per config")
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent clients")
    args = parser.parse_args()

    import pandas as pd

    from model_server.forest import ForestProba

    with tempfile.TemporaryDirectory() as tmp:
        model_dir = Path(tmp) / "forest"
        print("training a 100-tree RandomForest (n_jobs=-1)...", flush=True)
        model, row = build_model(model_dir)
        frame = pd.DataFrame([row], columns=model.feature_names_in_)
        as_trained = in_process_ms(lambda: model.predict(frame))
        packed = ForestProba(model)
        trees = in_process_ms(lambda: packed.predict(np.asarray([row])))
        print(f"in-process, one row: sklearn predict (n_jobs=-1) {as_trained:.2f} ms, "
              f"packed forest {trees:.3f} ms ({as_trained / trees:.1f}x)")  # fmt: skip

        slow_env = {
            "MODEL_SERVER_OVERRIDE_MODEL_THREADS": "false",
            "MODEL_SERVER_MAX_BATCH_ROWS": "1",
        }
        slow = serve_and_measure("as trained", model_dir, slow_env, row, args)
        fast = serve_and_measure("fast path", model_dir, {}, row, args)

    print(
        f"\nsingle-row /predict, {args.concurrency} concurrent clients, {args.seconds:.0f} s "
        f"each ({os.cpu_count()} CPUs shared by server and load generator)"
    )
    print(f"{'config':<12} {'req/s':>9} {'p50 ms':>8} {'p95 ms':>8} {'errors':>7} {'vs ref':>7}")
    for result in (slow, fast):
        p50, p95, ratio = result.pct(50), result.pct(95), result.rps / slow.rps
        print(
            f"{result.label:<12} {result.rps:>9,.0f} {p50:>8.2f} {p95:>8.2f} "
            f"{result.errors:>7} {ratio:>6.1f}x"
        )
    print("reference: 'as trained' (n_jobs=-1, no micro-batching), measured in this run")
    if slow.errors or fast.errors:
        raise SystemExit("some requests failed")


if __name__ == "__main__":
    main()
