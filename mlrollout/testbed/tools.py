"""kubectl and helm on one kubeconfig: the binaries `make cluster-up` links into bin/."""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]  # the checkout: bin/, hack/, charts/, k8s/


class TestbedError(Exception):
    """A step against the cluster or MLflow failed; the message says which and what to do."""

    __test__ = False  # not a pytest test class, despite its name


@dataclass(frozen=True)
class Kube:
    """Every kubectl and helm call of the demo and the tests goes through here."""

    kubeconfig: Path
    context: str | None = None  # None: the kubeconfig's current context

    def kubectl(
        self, *args: str, stdin: str | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        return self._run("kubectl", "--context", args, stdin, timeout)

    def helm(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return self._run("helm", "--kube-context", args, None, timeout)

    def kubectl_ok(self, *args: str, stdin: str | None = None) -> str:
        """kubectl's output, or TestbedError with its error."""
        return _checked("kubectl", args, self.kubectl(*args, stdin=stdin))

    def helm_ok(self, *args: str, timeout: float = 300) -> str:
        return _checked("helm", args, self.helm(*args, timeout=timeout))

    def apply(self, namespace: str, obj: dict[str, Any]) -> None:
        self.kubectl_ok("apply", "-n", namespace, "-f", "-", stdin=json.dumps(obj))

    def get(self, namespace: str, kind: str, name: str) -> dict[str, Any]:
        found: dict[str, Any] = json.loads(self.kubectl_ok("get", "-n", namespace, kind, name,
                                                           "-o", "json"))  # fmt: skip
        return found

    @contextlib.contextmanager
    def port_forward(self, namespace: str, target: str, port: int) -> Iterator[str]:
        """`kubectl port-forward` to ``target``; yields the local base URL once it listens."""
        command = [*self._base("kubectl", "--context"), "-n", namespace, "port-forward", target,
                   f":{port}", "--address", "127.0.0.1"]  # fmt: skip
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            match = re.search(r"127\.0\.0\.1:(\d+)", line)
            if match is None:
                raise TestbedError(f"port-forward to {namespace}/{target} failed: {line.strip()}")
            time.sleep(0.2)
            yield f"http://127.0.0.1:{match.group(1)}"
        finally:
            process.terminate()
            process.wait(timeout=10)

    def _base(self, tool: str, context_flag: str) -> list[str]:
        context = [context_flag, self.context] if self.context else []
        return [_binary(tool), "--kubeconfig", str(self.kubeconfig), *context]

    def _run(
        self, tool: str, context_flag: str, args: tuple[str, ...], stdin: str | None,
        timeout: float,
    ) -> subprocess.CompletedProcess[str]:  # fmt: skip
        return subprocess.run(
            [*self._base(tool, context_flag), *args],
            input=stdin, capture_output=True, text=True, timeout=timeout, check=False,
        )  # fmt: skip


def _binary(tool: str) -> str:
    linked = ROOT / "bin" / tool
    if linked.exists():
        return str(linked)
    found = shutil.which(tool)
    if found is None:
        raise TestbedError(
            f"{tool} not found: run `make cluster-up` (it builds and links bin/{tool})"
        )
    return found


def _checked(tool: str, args: tuple[str, ...], result: subprocess.CompletedProcess[str]) -> str:
    if result.returncode != 0:
        raise TestbedError(f"{tool} {' '.join(args[:3])} failed: {result.stderr.strip()}")
    return result.stdout
