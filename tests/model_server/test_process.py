"""The real `python -m model_server` process: configuration errors and graceful SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from .served import get, post, start_server, wait_ready


def test_missing_model_uri_is_a_clear_configuration_error() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODEL_SERVER_")}
    result = subprocess.run(
        [sys.executable, "-m", "model_server"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "MODEL_SERVER_MODEL_URI: Field required" in result.stderr


def test_sigterm_turns_unready_at_once_and_finishes_in_flight_requests(flaky_dir: Path) -> None:
    base, process = start_server(
        flaky_dir,
        {"MODEL_SERVER_TRUST_MODEL_CODE": "true", "MODEL_SERVER_SHUTDOWN_DELAY_SECONDS": "1"},
    )
    try:
        wait_ready(base, process)
        slow: dict[str, Any] = {}
        # 555 makes the model sleep 2 s: the request is in flight when SIGTERM arrives.
        worker = threading.Thread(
            target=lambda: slow.update(result=post(f"{base}/predict", {"instances": [[555, 0]]}))
        )
        worker.start()
        time.sleep(0.5)
        process.send_signal(signal.SIGTERM)
        time.sleep(0.2)
        status, body = get(f"{base}/v2/health/ready")
        assert status == 503
        assert body["reason"] == "server is shutting down"
        worker.join(timeout=15)
        assert slow["result"] == (200, {"predictions": [1110.0]})
        logs = process.communicate(timeout=20)[0].decode()
        # uvicorn re-raises the captured SIGTERM once it has shut down cleanly.
        assert process.returncode == -signal.SIGTERM
        assert '"msg": "shutdown requested"' in logs  # structured JSON log lines
        assert "Finished server process" in logs
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
