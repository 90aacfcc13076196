"""The model server as a real process, fuzzed from its own OpenAPI document (schemathesis:
schema-valid and schema-violating requests to every operation) and by clients that misbehave on
the wire: never a 5xx, it keeps answering, and its memory stays flat from one round to the next.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from .served import get, post, start_server, wait_ready

ROW = [0.5] * 30  # the breast-cancer models take 30 features
ST = Path(sys.executable).with_name("st")


@pytest.fixture
def served(logistic_dir: Path, tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    with (tmp_path / "server.log").open("wb") as log:
        base, process = start_server(logistic_dir, {"MODEL_SERVER_MAX_REQUEST_BYTES": "65536"}, log)
        try:
            wait_ready(base, process)
            yield base, process
        finally:
            process.kill()
            process.wait()


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for pid {pid}")


def fuzz(base: str, tmp_path: Path) -> None:
    """One schemathesis round over every operation; the same requests each time (a seed)."""
    result = subprocess.run(
        [str(ST), "run", f"{base}/openapi.json", "--checks", "not_a_server_error",
         "--mode", "all", "--max-examples", "60", "--seed", "7",
         "--request-timeout", "10", "--phases", "examples,coverage,fuzzing",
         "--generation-database", "none", "--report-dir", str(tmp_path / "st")],
        capture_output=True, text=True, timeout=900, check=False,
        cwd=tmp_path,  # its crash cache goes here, not into the checkout
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]


def test_fuzzed_from_its_schema_it_never_answers_5xx_and_its_memory_stays_flat(
    served: tuple[str, subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    base, process = served
    fuzz(base, tmp_path)  # the first round warms caches and allocator pools
    warm = rss_mib(process.pid)
    for _ in range(2):
        fuzz(base, tmp_path)
    grown = rss_mib(process.pid) - warm
    sys.stderr.write(f"model server RSS {warm:.0f} MiB after one round, +{grown:.1f} after 3\n")
    assert process.poll() is None
    assert grown < 0.05 * warm, f"RSS grew {grown:.1f} MiB over two rounds from {warm:.0f} MiB"
    assert post(f"{base}/predict", {"instances": [ROW]})[0] == 200


def partial_request(base: str, body: bytes, sent: int, chunked: bool = False) -> socket.socket:
    """A connection that has sent the headers and ``sent`` bytes of ``body``, and stalls."""
    host, port = base.removeprefix("http://").split(":")
    conn = socket.create_connection((host, int(port)), timeout=10)
    framing = "transfer-encoding: chunked" if chunked else f"content-length: {len(body)}"
    head = f"POST /predict HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\n"
    conn.sendall(f"{head}{framing}\r\n\r\n".encode() + body[:sent])
    return conn


def answer_status(conn: socket.socket) -> int:
    return int(conn.recv(65536).split(b" ", 2)[1])


def test_slow_and_broken_clients_never_hold_up_the_others(
    served: tuple[str, subprocess.Popen[bytes]],
) -> None:
    base, process = served
    body = b'{"instances": [' + b",".join([str(ROW).encode()] * 2) + b"]}"
    with ExitStack() as stack:
        slow = [stack.enter_context(partial_request(base, body, 20)) for _ in range(50)]
        for conn in slow[:10]:  # clients that give up mid-body
            conn.close()
        started = time.monotonic()
        assert post(f"{base}/predict", {"instances": [ROW]})[0] == 200
        assert time.monotonic() - started < 2  # not queued behind the stalled bodies
        for conn in slow[10:]:  # the rest finish their bodies, late
            conn.sendall(body[20:])
            assert answer_status(conn) == 200
        huge = stack.enter_context(partial_request(base, b"", 0, chunked=True))
        chunk = b"[" * 8192  # a chunked body with no declared length, past the 64 KiB limit
        try:
            for _ in range(16):
                huge.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        except OSError:
            pass  # the server answered and closed before the client finished sending
        assert answer_status(huge) == 413
    assert get(f"{base}/v2/health/ready")[0] == 200
    assert process.poll() is None
