"""kubectl and helm on one kubeconfig: the binaries `make cluster-up` links into bin/."""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlrollout.tracking_server import free_port

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
        """`kubectl port-forward` to ``target``; yields the local base URL once it listens.

        kubectl exits when one forwarded connection fails (a reset mid-upload, a pod
        restart): a watcher starts it again on the same local port, so a long training run
        sees one refused connection at most, never a dead tunnel."""
        local = free_port()
        command = ["-n", namespace, "port-forward", target, f"{local}:{port}"]
        with self._kubectl_listening(command, local, f"port-forward to {namespace}/{target}"):
            time.sleep(0.2)
            yield f"http://127.0.0.1:{local}"

    @contextlib.contextmanager
    def api_proxy(self) -> Iterator[str]:
        """`kubectl proxy` on a free local port; yields its base URL. Services and pods answer
        under it through the API server's proxy (``/api/v1/namespaces/N/services/S:P/proxy/``),
        the way a user reaches them on any cluster, kind included, from outside it."""
        local = free_port()
        with self._kubectl_listening(["proxy", "--port", str(local)], local, "kubectl proxy"):
            yield f"http://127.0.0.1:{local}"

    @contextlib.contextmanager
    def _kubectl_listening(self, args: list[str], local: int, what: str) -> Iterator[None]:
        """A long-running kubectl listening on 127.0.0.1:``local``, kept alive until exit."""
        command = [*self._base("kubectl", "--context"), *args, "--address", "127.0.0.1"]
        running = _Forward(command, what)
        try:
            first = running.start()
            if f"127.0.0.1:{local}" not in first:
                raise TestbedError(f"{what} failed: {first.strip()}")
            running.keep_alive()
            yield
        finally:
            running.stop()

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


class _Forward:
    """One `kubectl port-forward` (or `kubectl proxy`) command, restarted whenever it exits
    until stopped; its output drained so that kubectl never blocks on a full pipe."""

    def __init__(self, command: list[str], what: str) -> None:
        self._command, self._what = command, what
        self._stopped = threading.Event()
        self._process: subprocess.Popen[str] | None = None
        self._watcher = threading.Thread(target=self._watch, daemon=True)

    def start(self) -> str:
        """Start kubectl; its first line ("Forwarding from ...", or the error)."""
        self._process = subprocess.Popen(
            self._command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        assert self._process.stdout is not None
        return self._process.stdout.readline()

    def keep_alive(self) -> None:
        self._watcher.start()

    def _watch(self) -> None:
        while not self._stopped.is_set():
            process = self._process
            assert process is not None
            assert process.stdout is not None
            for _ in process.stdout:  # drained until kubectl exits
                pass
            process.wait()
            process.stdout.close()
            if self._stopped.wait(0.5):
                return
            sys.stderr.write(f"{self._what} exited ({process.returncode}); again\n")
            self.start()
            if self._stopped.is_set():  # stop() ran meanwhile: it saw the old process
                assert self._process is not None
                self._process.terminate()

    def stop(self) -> None:
        self._stopped.set()
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)
        if self._watcher.is_alive():
            self._watcher.join(timeout=10)
        if self._process is not None and self._process.stdout is not None:
            self._process.stdout.close()
