"""The operator's adapters put together: the shared clients, and what a pass needs for one
ModelPromotion (MLflow with the resource's credentials, the cluster, live metrics, Events)."""

from __future__ import annotations

from dataclasses import dataclass

import kopf

from .cluster import Cluster
from .credentials import check_host
from .driver import Promotions, ResourceMemory
from .events import Reason
from .live import Live
from .metrics import OperatorMetrics
from .notify import Notifier
from .promotion_pass import Deps
from .registry import Registry, SharedHttp
from .settings import OperatorSettings
from .spec import ModelPromotionSpec

_EVENT_MESSAGE_LIMIT = 1000


@dataclass(frozen=True)
class OperatorContext:
    """What every resource shares, made once at start-up (kept in kopf's memo)."""

    settings: OperatorSettings
    cluster: Cluster
    live: Live
    metrics: OperatorMetrics
    promotions: Promotions
    notifier: Notifier


def build_context(settings: OperatorSettings) -> OperatorContext:
    """Made on the running event loop (kopf's start-up handler): the notifier starts its task."""
    notifier = Notifier.from_settings(settings)
    notifier.start()
    cluster = Cluster(
        timeout_s=settings.kubernetes_timeout_seconds, pod_proxy_url=settings.pod_proxy_url
    )
    live = Live(cluster)
    metrics = OperatorMetrics()
    # One connection pool for every promotion's MLflow calls (credentials go per request).
    http = SharedHttp()

    async def deps_for(memory: ResourceMemory, spec: ModelPromotionSpec) -> Deps:
        ref = spec.mlflow.credentials_secret_ref
        if ref is not None:
            check_host(spec.mlflow.tracking_uri, settings.mlflow_credential_hosts)
        credentials = await memory.credentials.read(ref, memory.namespace, cluster.read_secret)
        registry = Registry(
            spec.mlflow.tracking_uri, credentials, settings.mlflow_timeout_seconds, http=http
        )
        body = kopf.Body(memory.body)  # type: ignore[arg-type]  # RawBody is a TypedDict
        return Deps(
            registry=registry,
            cluster=cluster,
            live=live,
            events=KopfEvents(body),
            adopt=lambda objects: kopf.adopt(objects, owner=body),
            alias_poll_seconds=settings.alias_poll_seconds,
            scratch=memory.scratch,
        )

    promotions = Promotions(
        interval_s=settings.reconcile_interval_seconds,
        writer=cluster,
        deps_for=deps_for,
        metrics=metrics,
        notifier=notifier,
    )
    return OperatorContext(settings, cluster, live, metrics, promotions, notifier)


class KopfEvents:
    """`EventSink` posting Kubernetes Events about one resource through kopf's poster.

    `kopf.event` rather than `kopf.info`/`kopf.warn`: those obey `settings.posting.level`,
    which is set above every level so that kopf never turns its own log lines into Events.
    """

    def __init__(self, body: kopf.Body) -> None:
        self._body = body

    def info(self, reason: Reason, message: str) -> None:
        self._post("Normal", reason, message)

    def warn(self, reason: Reason, message: str) -> None:
        self._post("Warning", reason, message)

    def _post(self, type_: str, reason: Reason, message: str) -> None:
        kopf.event(
            self._body, type=type_, reason=reason.value, message=message[:_EVENT_MESSAGE_LIMIT]
        )
