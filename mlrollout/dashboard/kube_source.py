"""ModelPromotions from the Kubernetes API into a feed: list, then watch, on a thread.

A watch ends now and then (its timeout, a dropped connection): it resumes from the last
resourceVersion it saw. When that version is too old (410 Gone) it lists again, and the feed
drops whatever the new list lacks (deleted while nobody watched). Errors back off and show on
the page; the first list runs on the caller's thread (`check_access`), so a missing permission
or CRD is said before the dashboard starts.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException

from promotion_operator.spec import GROUP, PLURAL, VERSION

from .feed import PromotionFeed

log = logging.getLogger(__name__)

WATCH_TIMEOUT_S = 300  # the API server ends each watch after this; it then resumes
BACKOFF_S = (1.0, 2.0, 4.0, 8.0, 15.0, 30.0)
GONE = 410


class DashboardError(Exception):
    """The dashboard cannot show promotions; the message says why and what to do."""


class KubernetesSource:
    """The ModelPromotions of ``namespace`` (None: of every namespace) as the user sees them."""

    def __init__(
        self,
        api_client: client.ApiClient,
        namespace: str | None,
        *,
        watch_timeout_s: int = WATCH_TIMEOUT_S,
        backoff_s: tuple[float, ...] = BACKOFF_S,
    ) -> None:
        self.api_client = api_client
        self.namespace = namespace
        self._custom = client.CustomObjectsApi(api_client)
        self._watch_timeout_s = watch_timeout_s
        self._backoff_s = backoff_s
        self._stopped = threading.Event()
        self._watch: watch.Watch | None = None
        self._thread: threading.Thread | None = None
        self._first: tuple[list[dict[str, Any]], str] | None = None

    @property
    def scope(self) -> str:
        return f"namespace {self.namespace}" if self.namespace else "all namespaces"

    def check_access(self) -> None:
        """List once; DashboardError saying what to do if the user may not, or cannot."""
        try:
            self._first = self._list()
        except ApiException as exc:
            raise DashboardError(self._refusal(exc)) from None
        except Exception as exc:  # urllib3's connection errors, TLS, DNS
            host = self.api_client.configuration.host
            raise DashboardError(
                f"cannot reach the Kubernetes API at {host} ({exc}): check your kubeconfig "
                "(does `kubectl get modelpromotions` work?)"
            ) from None

    def start(self, feed: PromotionFeed) -> None:
        self._thread = threading.Thread(
            target=self._run, args=(feed,), name="dashboard-watch", daemon=True
        )
        self._thread.start()

    def stop(self, timeout_s: float = 2.0) -> None:
        self._stopped.set()
        if self._watch is not None:
            self._watch.stop()  # type: ignore[no-untyped-call]  # shuts the watch's socket down: the thread wakes now
        if self._thread is not None:
            self._thread.join(timeout_s)

    # -- the thread ---------------------------------------------------------------------------
    def _run(self, feed: PromotionFeed) -> None:
        failures, listed_at = 0, 0.0
        while not self._stopped.is_set():
            try:
                if time.monotonic() - listed_at < self._backoff_s[0]:
                    self._stopped.wait(self._backoff_s[0])  # no list storm if 410s keep coming
                items, version = self._first or self._list()
                self._first, listed_at = None, time.monotonic()
                feed.replace(items)
                feed.set_health(True, f"watching ModelPromotions in {self.scope}")
                failures = 0
                self._follow(feed, version)  # returns when the version is gone: list again
            except Exception as exc:
                if self._stopped.is_set():
                    return
                delay = self._backoff_s[min(failures, len(self._backoff_s) - 1)]
                failures += 1
                why = self._refusal(exc) if isinstance(exc, ApiException) else str(exc)
                log.warning("watching ModelPromotions failed (%s); again in %.0f s", why, delay)
                feed.set_health(False, f"lost the Kubernetes API ({why}); retrying in {delay:g} s")
                self._stopped.wait(delay)

    def _follow(self, feed: PromotionFeed, version: str) -> None:
        """Apply watch events from ``version`` on, resuming after each watch ends."""
        while not self._stopped.is_set():
            self._watch = watch.Watch()  # type: ignore[no-untyped-call]
            arguments = {
                **self._list_args(),
                "resource_version": version,
                "allow_watch_bookmarks": True,
                "timeout_seconds": self._watch_timeout_s,
                "_request_timeout": (10, self._watch_timeout_s + 30),  # a silent connection
            }
            try:
                events = self._watch.stream(self._list_call(), **arguments)  # type: ignore[no-untyped-call]
                for event in events:
                    self._apply(feed, event)
            except ApiException as exc:
                if exc.status == GONE:
                    return
                raise
            version = self._watch.resource_version or version

    @staticmethod
    def _apply(feed: PromotionFeed, event: dict[str, Any]) -> None:
        obj = event.get("raw_object") or {}
        if event.get("type") in ("ADDED", "MODIFIED"):
            feed.upsert(obj)
        elif event.get("type") == "DELETED":
            metadata = obj.get("metadata") or {}
            feed.delete(str(metadata.get("namespace", "")), str(metadata.get("name", "")))

    def _list(self) -> tuple[list[dict[str, Any]], str]:
        listed: dict[str, Any] = self._list_call()(**self._list_args(), _request_timeout=30)
        return list(listed.get("items") or []), str(listed["metadata"]["resourceVersion"])

    def _list_call(self) -> Any:
        if self.namespace:
            return self._custom.list_namespaced_custom_object
        return self._custom.list_cluster_custom_object

    def _list_args(self) -> dict[str, Any]:
        where = {"namespace": self.namespace} if self.namespace else {}
        return {"group": GROUP, "version": VERSION, "plural": PLURAL, **where}

    def _refusal(self, exc: ApiException) -> str:
        """What an API error means to the user, and what to do next."""
        if exc.status == 403 and self.namespace is None:
            return (
                "you may not list ModelPromotions in all namespaces (403 Forbidden): pass "
                "-n NAMESPACE to show one namespace you may read"
            )
        if exc.status == 403:
            return (
                f"you may not list ModelPromotions in namespace {self.namespace} (403 "
                "Forbidden): ask for the chart's view role there, or pass another -n"
            )
        if exc.status == 401:
            return (
                "the Kubernetes API did not accept your credentials (401 Unauthorized): "
                "log in again or check your kubeconfig"
            )
        if exc.status == 404:
            return (
                f"the cluster does not serve {PLURAL}.{GROUP}/{VERSION} (404): install the "
                "ModelPromotion CRD (the chart, or k8s/crds/)"
            )
        return f"the Kubernetes API answered {exc.status} {exc.reason}"
