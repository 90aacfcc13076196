"""The plugin's side of the Kubernetes API: the user's kubeconfig, and the few calls it makes.

Every failure a user can meet (a broken kubeconfig, no API server, no permission, no such
promotion) becomes a `KubeError` whose message says what to do next; the commands print it
without a traceback.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import urllib3
import yaml
from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from promotion_operator.spec import GROUP, PLURAL, VERSION

RESOURCE = f"{PLURAL}.{GROUP}"
TIMEOUT_S = 15.0  # one API call; a watch is re-opened every WATCH_S
WATCH_S = 300
MERGE_PATCH = "application/merge-patch+json"


class KubeError(Exception):
    """A failure to tell the user about, in a sentence that says what to do next."""


class Conflict(KubeError):
    """409: the object changed since it was read (its resourceVersion moved on)."""


class NotFound(KubeError):
    """404: no such ModelPromotion."""


@dataclass(frozen=True)
class Connection:
    api: client.ApiClient
    namespace: str  # -n, else the context's namespace, else "default"
    context: str


def kubeconfig_path(explicit: str | None) -> str:
    """As kubectl: --kubeconfig, else $KUBECONFIG (a list of files), else ~/.kube/config."""
    return explicit or os.environ.get("KUBECONFIG") or "~/.kube/config"


def connect(kubeconfig: str | None, context: str | None, namespace: str | None) -> Connection:
    path = kubeconfig_path(kubeconfig)
    files = [Path(p).expanduser() for p in path.split(os.pathsep) if p]
    if not any(f.is_file() for f in files):
        raise KubeError(
            f"no kubeconfig at {path}: pass --kubeconfig or set KUBECONFIG to the file "
            "your cluster's tools wrote"
        )
    try:
        contexts, active = config.list_kube_config_contexts(path)  # type: ignore[no-untyped-call]
        name = context or (active or {}).get("name", "")
        chosen = next((c for c in contexts or [] if c.get("name") == name), None)
        if chosen is None:
            raise KubeError(
                f"no context {name!r} in {path} (kubectl config get-contexts lists them)"
            )
        api = config.new_client_from_config(  # type: ignore[no-untyped-call]
            config_file=path, context=name, persist_config=False
        )
    except ConfigException as exc:
        raise KubeError(f"cannot use the kubeconfig {path}: {exc}") from None
    except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise KubeError(f"cannot read the kubeconfig {path}: {exc}") from None
    default = (chosen.get("context") or {}).get("namespace") or "default"
    return Connection(api, namespace or default, name)


class Promotions:
    """ModelPromotions in one namespace (or all of them), through the user's own credentials."""

    def __init__(self, connection: Connection, *, all_namespaces: bool = False) -> None:
        self.connection = connection
        self.namespace = connection.namespace
        self.all_namespaces = all_namespaces
        self._custom = client.CustomObjectsApi(connection.api)

    def get(self, name: str) -> dict[str, Any]:
        with self._errors("get", name):
            obj = self._custom.get_namespaced_custom_object(
                GROUP, VERSION, self.namespace, PLURAL, name, _request_timeout=TIMEOUT_S
            )
        return cast(dict[str, Any], obj)

    def listing(self, name: str | None = None) -> tuple[list[dict[str, Any]], str]:
        """The promotions in scope (only ``name`` if given) and the list's resourceVersion."""
        selector = f"metadata.name={name}" if name else None
        with self._errors("list"):
            if self.all_namespaces:
                found = self._custom.list_cluster_custom_object(
                    GROUP, VERSION, PLURAL, field_selector=selector, _request_timeout=TIMEOUT_S
                )
            else:
                found = self._custom.list_namespaced_custom_object(
                    GROUP, VERSION, self.namespace, PLURAL, field_selector=selector,
                    _request_timeout=TIMEOUT_S,
                )  # fmt: skip
        found = cast(dict[str, Any], found)
        version = str((found.get("metadata") or {}).get("resourceVersion", ""))
        return list(found.get("items") or []), version

    def patch(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        """A JSON merge patch (a `metadata.resourceVersion` in it makes a stale write a 409)."""
        with self._errors("patch", name):
            obj = self._custom.patch_namespaced_custom_object(
                GROUP, VERSION, self.namespace, PLURAL, name, body,
                _content_type=MERGE_PATCH, _request_timeout=TIMEOUT_S,
            )  # fmt: skip
        return cast(dict[str, Any], obj)

    def whoami(self) -> str:
        """The user the API server authenticates these credentials as (SelfSubjectReview)."""
        auth = client.AuthenticationV1Api(self.connection.api)
        try:
            review = auth.create_self_subject_review(
                client.V1SelfSubjectReview(), _request_timeout=TIMEOUT_S
            )
        except ApiException as exc:
            raise KubeError(
                f"cannot learn from the API server who you are (SelfSubjectReview, Kubernetes "
                f">= 1.28): {exc.status} {_server_message(exc)}"
            ) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise self._unreachable(exc) from None
        info = review.status.user_info if review.status else None
        if info is None or not info.username:
            raise KubeError("the API server did not say who you are (SelfSubjectReview)")
        return str(info.username)

    def watch(self, name: str | None = None) -> Generator[list[dict[str, Any]], None, None]:
        """The promotions in scope, again after every change, until the caller stops."""
        while True:
            items, version = self.listing(name)
            objects = {_key(o): o for o in items}
            yield _sorted(objects)
            opened, changes = time.monotonic(), 0
            try:
                for _ in self._follow(objects, name, version):
                    changes += 1
                    yield _sorted(objects)
            except ApiException as exc:
                if exc.status != 410:  # Gone: too old to watch from; list again
                    raise self._explain(exc, "watch", None) from None
                continue
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                raise self._unreachable(exc) from None
            if changes == 0 and time.monotonic() - opened < 1:
                time.sleep(1)  # a stream that ends at once: do not ask again in a tight loop

    def _follow(
        self, objects: dict[tuple[str, str], dict[str, Any]], name: str | None, version: str
    ) -> Iterator[None]:
        """Apply each event of one watch stream to ``objects``; yield after each change."""
        list_call, args = self._list_call()
        events = watch.Watch().stream(  # type: ignore[no-untyped-call]
            list_call, *args, resource_version=version,
            field_selector=f"metadata.name={name}" if name else None,
            timeout_seconds=WATCH_S, _request_timeout=(TIMEOUT_S, WATCH_S + 30),
        )  # fmt: skip
        for event in events:
            kind, obj = event["type"], event["raw_object"]
            if kind == "DELETED":
                objects.pop(_key(obj), None)
            elif kind in ("ADDED", "MODIFIED"):
                objects[_key(obj)] = obj
            else:
                continue  # BOOKMARK
            yield None

    def _list_call(self) -> tuple[Any, tuple[str, ...]]:
        if self.all_namespaces:
            return self._custom.list_cluster_custom_object, (GROUP, VERSION, PLURAL)
        args = (GROUP, VERSION, self.namespace, PLURAL)
        return self._custom.list_namespaced_custom_object, args

    @contextmanager
    def _errors(self, verb: str, name: str | None = None) -> Iterator[None]:
        try:
            yield
        except ApiException as exc:
            raise self._explain(exc, verb, name) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise self._unreachable(exc) from None

    def _scope(self, named: bool) -> tuple[str, str]:
        """Where a call looked, in words and as kubectl flags."""
        if self.all_namespaces and not named:
            return "any namespace", "--all-namespaces"
        return f"namespace {self.namespace!r}", f"-n {self.namespace}"

    def _explain(self, exc: ApiException, verb: str, name: str | None) -> KubeError:
        where, flags = self._scope(name is not None)
        said = _server_message(exc)
        if exc.status == 404 and name is not None:
            return NotFound(
                f"modelpromotion {name!r} not found in {where}; "
                f"kubectl mlrollout get {flags} lists them"
            )
        if exc.status == 404:
            return KubeError(
                f"the API server has no {RESOURCE}: is mlrollout's CRD installed? "
                f"(kubectl get crd {RESOURCE})"
            )
        if exc.status == 403:
            return KubeError(
                f"you may not {verb} {RESOURCE} in {where} ({said}); "
                f"check with: kubectl auth can-i {verb} {RESOURCE} {flags}"
            )
        if exc.status == 401:
            return KubeError(
                f"the API server did not accept the credentials of context "
                f"{self.connection.context!r}: log in again ({said})"
            )
        if exc.status == 409:
            return Conflict(f"modelpromotion {name!r} changed meanwhile ({said})")
        return KubeError(f"the API server answered {exc.status} to {verb} {RESOURCE}: {said}")

    def _unreachable(self, exc: Exception) -> KubeError:
        reason = getattr(exc, "reason", None) or exc
        detail = str(reason).rsplit(": ", 1)[-1]
        host = self.connection.api.configuration.host
        return KubeError(
            f"cannot reach the Kubernetes API server at {host} ({detail}): is the cluster "
            f"running, and is {self.connection.context!r} the right context? (kubectl cluster-info)"
        )


def _server_message(exc: ApiException) -> str:
    """The Status message the API server sent, else the HTTP reason."""
    try:
        return str(json.loads(exc.body or "")["message"])
    except (ValueError, KeyError, TypeError):
        return str(exc.reason or "no reason given")


def _key(obj: dict[str, Any]) -> tuple[str, str]:
    metadata = obj.get("metadata") or {}
    return str(metadata.get("namespace", "")), str(metadata.get("name", ""))


def _sorted(objects: dict[tuple[str, str], dict[str, Any]]) -> list[dict[str, Any]]:
    return [objects[k] for k in sorted(objects)]
