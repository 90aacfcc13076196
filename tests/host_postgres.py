"""A throwaway PostgreSQL server on this machine (Debian's binaries) for the tiers without a
cluster: its own data directory and port, password authentication over TCP as MLflow uses it.

PostgreSQL refuses to run as root, so as root it runs as Debian's `postgres` user.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mlrollout.tracking_server import free_port

USER = "mlflow"
PASSWORD = "test-password-not-secret"


class NoPostgres(Exception):
    """PostgreSQL's server binaries are not installed here."""


def server_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not found:
        raise NoPostgres(
            "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): "
            "`apt-get install postgresql` (`make cluster-up` installs it)"
        )
    return found[-1].parent


@dataclass
class HostPostgres:
    root: Path
    port: int = 0

    def start(self) -> None:
        bin_dir = server_bin()
        self.port = self.port or free_port()
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "pw").write_text(PASSWORD)
        self._own(self.root)
        data = self.root / "data"
        self._run(
            bin_dir / "initdb", "-D", data, "-U", USER, f"--pwfile={self.root / 'pw'}",
            "--auth-host=scram-sha-256", "--auth-local=trust", "--encoding=UTF8", "--locale=C",
        )  # fmt: skip
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            bin_dir / "pg_ctl", "-D", data, "-l", self.root / "server.log", "-o", options,
            "-w", "-t", "60", "start",
        )  # fmt: skip

    def create_database(self, name: str) -> str:
        self._run(server_bin() / "createdb", "-h", self.root, "-p", self.port, "-U", USER, name)
        return self.uri(name)

    def uri(self, database: str, password: str = PASSWORD) -> str:
        return f"postgresql+psycopg2://{USER}:{password}@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        data = self.root / "data"
        if (data / "postmaster.pid").exists():
            self._run(server_bin() / "pg_ctl", "-D", data, "-m", "immediate", "-w", "stop")

    def _own(self, path: Path) -> None:
        if os.geteuid() == 0:
            entry = pwd.getpwnam("postgres")
            for parent in [path, *path.parents]:  # the server must be able to reach its dir
                if parent == Path("/tmp") or parent == Path("/"):
                    break
                os.chmod(parent, os.stat(parent).st_mode | 0o711)
            shutil.chown(path, entry.pw_uid, entry.pw_gid)
            shutil.chown(path / "pw", entry.pw_uid, entry.pw_gid)

    def _run(self, *argv: object) -> None:
        command: Sequence[str] = [str(a) for a in argv]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        if result.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"{' '.join(command)}: {result.stderr or result.stdout}\n{tail}")
