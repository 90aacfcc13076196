"""A local HTTP server speaking the few Kubernetes API calls the plugin makes, over a `FakeApi`.

The plugin's real client (the kubernetes package, urllib3) talks to it through a kubeconfig,
so the tests see the requests as the API server would: method, path, Content-Type, body. The
real API server's behaviour is the e2e tier's to check."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml

from mlrollout.plugin.kube import Conflict, NotFound

from .fakes import FakeApi

PROMOTIONS = re.compile(
    r"^/apis/mlrollout\.dev/v1alpha1(?:/namespaces/(?P<ns>[^/]+))?/modelpromotions(?:/(?P<name>[^/]+))?$"
)
REVIEWS = "/apis/authentication.k8s.io/v1/selfsubjectreviews"


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    query: dict[str, list[str]]
    content_type: str
    body: Any


@dataclass
class ApiServerState:
    api: FakeApi
    forbidden: set[str] = field(default_factory=set)  # verbs answered 403
    watches: list[list[dict[str, Any]]] = field(default_factory=list)  # events, per watch call
    received: list[Received] = field(default_factory=list)

    def calls(self, method: str) -> list[Received]:
        return [r for r in self.received if r.method == method]


def status_body(code: int, reason: str, message: str) -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code,
            "reason": reason, "message": message}  # fmt: skip


def handler_for(state: ApiServerState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            self.handle_call()

        def do_PATCH(self) -> None:
            self.handle_call()

        def do_POST(self) -> None:
            self.handle_call()

        def handle_call(self) -> None:
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            content_type = self.headers.get("Content-Type", "")
            state.received.append(Received(self.command, url.path, query, content_type, body))
            if url.path == REVIEWS and self.command == "POST":
                self.review()
                return
            match = PROMOTIONS.match(url.path)
            if match is None:
                self.reply(404, status_body(404, "NotFound", "the server could not find it"))
                return
            self.promotions(match["ns"], match["name"], query, body)

        def review(self) -> None:
            if "create" in state.forbidden:
                self.forbid("create", "selfsubjectreviews")
                return
            user = {"username": state.api.user, "groups": ["system:authenticated"]}
            review = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
            self.reply(201, {**review, "status": {"userInfo": user}})

        def promotions(
            self, namespace: str | None, name: str | None, query: dict[str, list[str]], body: Any
        ) -> None:
            watching = query.get("watch") == ["true"]
            verb = {"PATCH": "patch"}.get(self.command) or (
                "get" if name else "watch" if watching else "list"
            )
            if verb in state.forbidden:
                self.forbid(verb, "modelpromotions", namespace)
                return
            try:
                if verb == "patch":
                    self.reply(200, state.api.patch(str(name), body))
                elif verb == "get":
                    obj = state.api.get(str(name))
                    if obj["metadata"]["namespace"] != namespace:
                        raise NotFound(str(name))
                    self.reply(200, obj)
                elif verb == "watch":
                    self.stream(state.watches.pop(0) if state.watches else [])
                else:
                    self.reply(200, self.listing(namespace, query))
            except NotFound:
                message = f'modelpromotions.mlrollout.dev "{name}" not found'
                self.reply(404, status_body(404, "NotFound", message))
            except Conflict:
                message = "the object has been modified; please apply your changes again"
                self.reply(409, status_body(409, "Conflict", message))

        def listing(self, namespace: str | None, query: dict[str, list[str]]) -> dict[str, Any]:
            selector = (query.get("fieldSelector") or [""])[0].removeprefix("metadata.name=")
            items = [
                state.api.get(n)
                for n in sorted(state.api.objects)
                if (not selector or n == selector)
                and namespace in (None, state.api.objects[n]["metadata"]["namespace"])
            ]
            return {"apiVersion": "mlrollout.dev/v1alpha1", "kind": "ModelPromotionList",
                    "metadata": {"resourceVersion": "500"}, "items": items}  # fmt: skip

        def forbid(self, verb: str, resource: str, namespace: str | None = None) -> None:
            where = f' in the namespace "{namespace}"' if namespace else " at the cluster scope"
            message = (
                f'{resource}.mlrollout.dev is forbidden: User "{state.api.user}" cannot {verb} '
                f'resource "{resource}" in API group "mlrollout.dev"{where}'
            )
            self.reply(403, status_body(403, "Forbidden", message))

        def reply(self, code: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def stream(self, events: list[dict[str, Any]]) -> None:
            """Watch events, one JSON document a line, then the end of the stream."""
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            for event in events:
                self.wfile.write(json.dumps(event).encode() + b"\n")
            self.close_connection = True

    return Handler


@contextmanager
def serving(state: ApiServerState) -> Iterator[str]:
    """Serve ``state`` on a free local port; yields its URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(state))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def write_kubeconfig(path: Path, server: str, namespace: str | None = "ml") -> Path:
    context: dict[str, Any] = {"cluster": "test", "user": "alice"}
    if namespace:
        context["namespace"] = namespace
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "test",
        "clusters": [{"name": "test", "cluster": {"server": server}}],
        "users": [{"name": "alice", "user": {"token": "t0ken"}}],
        "contexts": [{"name": "test", "context": context},
                     {"name": "other", "context": {"cluster": "test", "user": "alice"}}],
    }))  # fmt: skip
    return path
