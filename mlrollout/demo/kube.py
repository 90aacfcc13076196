"""kubectl and helm for the demo: the tools `make cluster-up` linked into bin/, one kubeconfig."""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


class DemoError(SystemExit):
    """A step failed; the message says which and what to look at."""


@dataclass(frozen=True)
class Kube:
    kubeconfig: str
    namespace: str

    def _tool(self, name: str) -> str:
        path = ROOT / "bin" / name
        if not path.exists():
            raise DemoError(f"{path} not found: run `make cluster-up` first (it links {name})")
        return str(path)

    def kubectl(self, *args: str, stdin: str | None = None, check: bool = True) -> str:
        cmd = [self._tool("kubectl"), "--kubeconfig", self.kubeconfig, "-n", self.namespace, *args]
        result = subprocess.run(cmd, input=stdin, capture_output=True, text=True, check=False)
        if check and result.returncode != 0:
            raise DemoError(f"kubectl {' '.join(args)} failed: {result.stderr.strip()}")
        return result.stdout

    def helm(self, *args: str) -> str:
        cmd = [self._tool("helm"), "--kubeconfig", self.kubeconfig, "-n", self.namespace, *args]
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise DemoError(f"helm {' '.join(args[:2])} failed: {result.stderr.strip()}")
        return result.stdout

    def apply(self, obj: dict[str, Any]) -> None:
        self.kubectl("apply", "-f", "-", stdin=json.dumps(obj))

    def get(self, kind: str, name: str) -> dict[str, Any]:
        found: dict[str, Any] = json.loads(self.kubectl("get", kind, name, "-o", "json"))
        return found

    @contextlib.contextmanager
    def port_forward(self, target: str, port: int) -> Iterator[str]:
        """`kubectl port-forward` to ``target``; yields the local base URL once it listens."""
        cmd = [self._tool("kubectl"), "--kubeconfig", self.kubeconfig, "-n", self.namespace,
               "port-forward", target, f":{port}", "--address", "127.0.0.1"]  # fmt: skip
        process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            match = re.search(r"127\.0\.0\.1:(\d+)", line)
            if match is None:
                raise DemoError(f"port-forward to {target} failed: {line.strip()}")
            time.sleep(0.2)
            yield f"http://127.0.0.1:{match.group(1)}"
        finally:
            process.terminate()
            process.wait(timeout=10)
