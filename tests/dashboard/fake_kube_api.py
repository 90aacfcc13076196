"""Just enough of a Kubernetes API server, over real HTTP, to test the dashboard's list and watch
of ModelPromotions with the real kubernetes client: lists with a resourceVersion, watches that
stream events after one (and end after `timeoutSeconds`), 410 Gone for a version compacted
away, 403 for a cluster-wide list when told to refuse it. The real API is the e2e tier's."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from kubernetes import client

PREFIX = "/apis/mlrollout.dev/v1alpha1"


@dataclass
class FakeKubeApi:
    objects: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    events: list[tuple[int, str, dict[str, Any]]] = field(default_factory=list)  # rv, type, obj
    version: int = 100
    oldest_watchable: int = 0  # a watch from before this version gets 410 Gone
    refuse_cluster_list: bool = False
    failing: bool = False  # answer 500 to everything (the API server is having a bad time)
    lists: list[str] = field(default_factory=list)  # the paths listed, in order
    watches: list[tuple[str, int]] = field(default_factory=list)  # (path, from version)
    changed: threading.Condition = field(default_factory=threading.Condition)
    generation: int = 0  # bumped to end every open watch

    def put(self, obj: dict[str, Any]) -> None:
        with self.changed:
            self.version += 1
            metadata = obj["metadata"]
            key = (metadata["namespace"], metadata["name"])
            kind = "MODIFIED" if key in self.objects else "ADDED"
            stored = json.loads(json.dumps(obj))
            stored["metadata"]["resourceVersion"] = str(self.version)
            self.objects[key] = stored
            self.events.append((self.version, kind, stored))
            self.changed.notify_all()

    def delete(self, namespace: str, name: str, *, unseen: bool = False) -> None:
        """``unseen``: no watch event tells of it (it is in a compacted past)."""
        with self.changed:
            self.version += 1
            gone = self.objects.pop((namespace, name))
            if not unseen:
                self.events.append((self.version, "DELETED", gone))
            self.changed.notify_all()

    def compact(self) -> None:
        """Forget every version before the current one and end open watches: they must list
        again (a list returns the current version, which can be watched from)."""
        with self.changed:
            self.oldest_watchable = self.version
            self.end_watches()

    def end_watches(self) -> None:
        with self.changed:
            self.generation += 1
            self.changed.notify_all()

    def api_client(self, url: str) -> client.ApiClient:
        return client.ApiClient(client.Configuration(host=url))

    @contextmanager
    def serving(self) -> Iterator[str]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # a watch streams its events in chunks, as the API's

            def do_GET(self) -> None:
                api.handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            self.end_watches()
            server.shutdown()
            server.server_close()

    # -- the API --------------------------------------------------------------------------------
    def handle(self, request: BaseHTTPRequestHandler) -> None:
        url = urlparse(request.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        ours, namespace = self._route(url.path)
        if not ours:
            return self._status(request, 404, "NotFound", f"no route {url.path}")
        if self.failing:
            return self._status(request, 500, "InternalError", "etcd is on fire")
        if namespace is None and self.refuse_cluster_list:
            return self._status(request, 403, "Forbidden", "cannot list at the cluster scope")
        if query.get("watch") == "true":
            return self._watch(request, namespace, int(query["resourceVersion"]),
                               float(query.get("timeoutSeconds", 300)))  # fmt: skip
        return self._list(request, namespace)

    @staticmethod
    def _route(path: str) -> tuple[bool, str | None]:
        """Whether ``path`` lists modelpromotions, and in which namespace (None: all)."""
        if path == f"{PREFIX}/modelpromotions":
            return True, None
        parts = path.removeprefix(f"{PREFIX}/namespaces/").split("/")
        if path.startswith(f"{PREFIX}/namespaces/") and parts[1:] == ["modelpromotions"]:
            return True, parts[0]
        return False, None

    def _list(self, request: BaseHTTPRequestHandler, namespace: str | None) -> None:
        with self.changed:
            self.lists.append(request.path)
            items = [o for (ns, _), o in sorted(self.objects.items())
                     if namespace is None or ns == namespace]  # fmt: skip
            body = {"apiVersion": "mlrollout.dev/v1alpha1", "kind": "ModelPromotionList",
                    "metadata": {"resourceVersion": str(self.version)}, "items": items}  # fmt: skip
        self._json(request, 200, body)

    def _watch(self, request: BaseHTTPRequestHandler, namespace: str | None, since: int,
               timeout_s: float) -> None:  # fmt: skip
        with self.changed:
            self.watches.append((request.path, since))
            generation = self.generation
        request.send_response(200)
        request.send_header("Content-Type", "application/json")
        request.send_header("Transfer-Encoding", "chunked")
        request.end_headers()
        try:
            if since < self.oldest_watchable:
                gone = {"kind": "Status", "code": 410, "reason": "Expired",
                        "message": f"too old resource version: {since}"}  # fmt: skip
                _chunk(request, {"type": "ERROR", "object": gone})
            else:
                self._stream(request, namespace, since, generation, timeout_s)
            request.wfile.write(b"0\r\n\r\n")
        except OSError:  # the client went away
            pass

    def _stream(self, request: BaseHTTPRequestHandler, namespace: str | None, since: int,
                generation: int, timeout_s: float) -> None:  # fmt: skip
        """Events after ``since``, as they come, until the timeout or `end_watches`."""
        deadline = time.monotonic() + timeout_s
        while True:
            with self.changed:
                due = [(v, t, o) for v, t, o in self.events if v > since and
                       (namespace is None or o["metadata"]["namespace"] == namespace)]  # fmt: skip
                if not due:
                    self.changed.wait(max(0.0, min(0.2, deadline - time.monotonic())))
                if self.generation != generation or time.monotonic() >= deadline:
                    return
            for version, kind, obj in due:
                _chunk(request, {"type": kind, "object": obj})
                since = version

    @staticmethod
    def _json(request: BaseHTTPRequestHandler, code: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        request.send_response(code)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)

    def _status(self, request: BaseHTTPRequestHandler, code: int, reason: str,
                message: str) -> None:  # fmt: skip
        body = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code,
                "reason": reason, "message": message}  # fmt: skip
        self._json(request, code, body)


def _chunk(request: BaseHTTPRequestHandler, event: dict[str, Any]) -> None:
    """One watch event: a JSON line in an HTTP chunk of its own."""
    line = json.dumps(event).encode() + b"\n"
    request.wfile.write(f"{len(line):x}\r\n".encode() + line + b"\r\n")
    request.wfile.flush()
