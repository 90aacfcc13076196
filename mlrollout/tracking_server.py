"""Start a small local MLflow tracking server (sqlite store, proxied artifacts).

One place decides how a local or test tracking server is launched, so the CLI, the test
fixtures and the cluster harness all run the same, small configuration:
- one uvicorn worker instead of MLflow's default four;
- job execution off (``MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false``): MLflow 3.x otherwise starts
  Huey job-consumer processes (~235 MB each) that a model registry does not need.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class BasicAuth:
    """MLflow's basic-auth app: the admin it creates on first start and where users live."""

    admin_username: str
    admin_password: str = field(repr=False)
    database_uri: str = field(repr=False)
    default_permission: str = "READ"
    # Signs the UI's CSRF tokens; every server behind one URL must share it.
    flask_secret_key: str = field(default_factory=lambda: secrets.token_hex(16), repr=False)


@dataclass(frozen=True)
class TrackingServerConfig:
    """Where the store lives and where the server listens."""

    store_dir: Path
    host: str = "127.0.0.1"
    port: int = 5000
    # Host headers MLflow accepts besides localhost/private IPs (for in-cluster DNS names).
    allowed_hosts: tuple[str, ...] = field(default_factory=tuple)
    # A database URI (e.g. PostgreSQL) instead of sqlite in ``store_dir``.
    database_uri: str | None = field(default=None, repr=False)
    auth: BasicAuth | None = None
    # uvicorn worker processes (`mlflow server --workers`).
    workers: int = 1

    @property
    def backend_store_uri(self) -> str:
        return self.database_uri or f"sqlite:///{self.store_dir / 'mlflow.db'}"

    @property
    def auth_config_path(self) -> Path:
        return self.store_dir / "basic_auth.ini"

    @property
    def artifacts_destination(self) -> Path:
        return self.store_dir / "artifacts"

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}"


def server_command(config: TrackingServerConfig) -> list[str]:
    """The `mlflow server` argv for ``config`` (run with :func:`server_env`)."""
    cmd = [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--backend-store-uri",
        config.backend_store_uri,
        "--artifacts-destination",
        str(config.artifacts_destination),
        "--serve-artifacts",
        "--host",
        config.host,
        "--port",
        str(config.port),
        "--workers",
        str(config.workers),
    ]
    if config.auth is not None:
        cmd += ["--app-name", "basic-auth"]
    if config.allowed_hosts:
        hosts = ["localhost", "localhost:*", "127.0.0.1", "127.0.0.1:*", *config.allowed_hosts]
        cmd += ["--allowed-hosts", ",".join(hosts)]
    return cmd


def server_env(
    base: dict[str, str] | None = None, config: TrackingServerConfig | None = None
) -> dict[str, str]:
    """Environment for the server process: job consumers off, no telemetry; the basic-auth
    app's settings when ``config`` asks for it (:func:`write_auth_config` first)."""
    env = dict(os.environ if base is None else base)
    if config is not None and config.auth is not None:
        env["MLFLOW_AUTH_CONFIG_PATH"] = str(config.auth_config_path)
        env["MLFLOW_AUTH_ADMIN_USERNAME"] = config.auth.admin_username
        env["MLFLOW_AUTH_ADMIN_PASSWORD"] = config.auth.admin_password
        env["MLFLOW_FLASK_SERVER_SECRET_KEY"] = config.auth.flask_secret_key
    env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"
    env["MLFLOW_SERVER_JOB_ENABLE_PERIODIC_TASKS"] = "false"
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    env["DO_NOT_TRACK"] = "true"
    return env


def write_auth_config(config: TrackingServerConfig) -> None:
    """The basic-auth app's ini file (the admin's credentials go by environment, not here)."""
    if config.auth is None:
        return
    config.auth_config_path.write_text(
        "[mlflow]\n"
        f"default_permission = {config.auth.default_permission}\n"
        f"database_uri = {config.auth.database_uri}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
    )
    config.auth_config_path.chmod(0o600)


def free_port(host: str = "127.0.0.1") -> int:
    """An unused TCP port on ``host`` (racy by nature; good enough for tests and demos)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_until_healthy(url: str, timeout_s: float, process: subprocess.Popen[bytes] | None) -> None:
    """Poll ``{url}/health`` until it answers 200; raise with a next step if it never does."""
    deadline = time.monotonic() + timeout_s
    last_error = "no answer yet"
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(
                f"mlflow server exited with code {process.returncode} before answering on {url}; "
                "see its log for the cause"
            )
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError) as exc:
            last_error = str(exc)
        time.sleep(0.25)
    raise TimeoutError(
        f"mlflow server at {url} not healthy after {timeout_s:.0f}s ({last_error}); "
        "check that the port is free and read the server log"
    )


def start(config: TrackingServerConfig, log_path: Path) -> subprocess.Popen[bytes]:
    """Start the server in the background, logging to ``log_path``; returns once healthy."""
    config.store_dir.mkdir(parents=True, exist_ok=True)
    config.artifacts_destination.mkdir(parents=True, exist_ok=True)
    write_auth_config(config)
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            server_command(config),
            env=server_env(config=config),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_until_healthy(config.url, timeout_s=120, process=process)
    except BaseException:
        stop(process)
        raise
    return process


def stop(process: subprocess.Popen[bytes], timeout_s: float = 15) -> None:
    """Terminate the server's whole process group (uvicorn spawns workers)."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, 15)
        process.wait(timeout=timeout_s)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, 9)
        process.wait(timeout=5)
