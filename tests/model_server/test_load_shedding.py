"""Past `max_pending_requests` the real server sheds load with 503 + Retry-After, stays Ready."""

from __future__ import annotations

import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from .served import get, post, start_server, wait_ready


def _post_with_headers(url: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url, data=body, headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def test_requests_over_the_limit_get_503_at_once_and_the_pod_stays_ready(
    flaky_dir: Path,
) -> None:
    base, process = start_server(
        flaky_dir,
        {
            "MODEL_SERVER_TRUST_MODEL_CODE": "true",
            "MODEL_SERVER_MAX_PENDING_REQUESTS": "2",
            "MODEL_SERVER_RETRY_AFTER_SECONDS": "3",
        },
    )
    try:
        wait_ready(base, process)
        slow: list[Any] = []
        # 555 makes the model sleep 2 s: two of them fill the two admitted places.
        workers = [
            threading.Thread(
                target=lambda: slow.append(post(f"{base}/predict", {"instances": [[555, 0]]}))
            )
            for _ in range(2)
        ]
        for worker in workers:
            worker.start()
        _wait_for_pending(base, 2)
        shed = [
            _post_with_headers(f"{base}/predict", b'{"instances": [[1, 2]]}'),
            _post_with_headers(f"{base}/v2/models/flaky/infer", b"{}"),
            _post_with_headers(f"{base}/predict", b"not even json"),
        ]
        for status, headers, body in shed:
            assert status == 503
            assert headers["retry-after"] == "3"
            assert b"server overloaded" in body
            assert b"MAX_PENDING_REQUESTS" in body
        assert get(f"{base}/v2/health/ready")[0] == 200  # busy is not unready
        assert get(f"{base}/v2/models/flaky")[0] == 200  # metadata is not shed either
        for worker in workers:
            worker.join(timeout=15)
        assert slow == [(200, {"predictions": [1110.0]})] * 2
        assert post(f"{base}/predict", {"instances": [[1, 2]]}) == (200, {"predictions": [2.0]})
        metrics = _metrics(base)
        assert "mlrollout_model_server_shed_requests_total 3.0" in metrics
        assert (
            'mlrollout_model_server_requests_total{method="POST",route="/predict",status="503"} 2.0'
            in metrics
        )
    finally:
        process.kill()
        process.communicate()


def _metrics(base: str) -> str:
    with urllib.request.urlopen(f"{base}/metrics", timeout=5) as resp:
        return str(resp.read().decode())


def _wait_for_pending(base: str, count: int) -> None:
    deadline = time.monotonic() + 10
    while f"mlrollout_model_server_admitted_requests {count}.0" not in _metrics(base):
        assert time.monotonic() < deadline, f"the server never had {count} requests admitted"
        time.sleep(0.05)
