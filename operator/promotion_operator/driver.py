"""Glue between kopf and the reconciler: builds the dependencies, persists the status once.

Kept out of `handlers.py` so the decorators stay a few lines each, and out of `reconcile.py` so
the step logic stays free of I/O set-up.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import kopf
from kubernetes.client.exceptions import ApiException

from .cluster import Cluster
from .credentials import CachedCredentials
from .events import Reason
from .live import Live
from .metrics import OperatorMetrics
from .promotion_pass import Deps, ModelPromotion, Scratch
from .reconcile import reconcile
from .registry import Registry
from .settings import OperatorSettings
from .spec import InvalidSpec, ModelPromotionSpec, parse_spec
from .status import PromotionPhase, PromotionStatus


@dataclass(frozen=True)
class OperatorContext:
    """What every resource shares, made once at start-up (kept in kopf's memo)."""

    settings: OperatorSettings
    cluster: Cluster
    live: Live
    metrics: OperatorMetrics | None


@dataclass
class ResourceMemory:
    """What the operator remembers of one resource between passes (lost on restart)."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    written: dict[str, Any] | None = None  # the status as we last wrote it
    scratch: Scratch = field(default_factory=Scratch)
    credentials: CachedCredentials = field(default_factory=CachedCredentials)


class KopfEvents:
    """`EventSink` posting Kubernetes Events about one resource through kopf."""

    def __init__(self, body: kopf.Body) -> None:
        self._body = body

    def info(self, reason: Reason, message: str) -> None:
        kopf.info(self._body, reason=reason.value, message=message[:1000])

    def warn(self, reason: Reason, message: str) -> None:
        kopf.warn(self._body, reason=reason.value, message=message[:1000])


async def drive(
    *,
    body: kopf.Body,
    name: str,
    namespace: str,
    patch: kopf.Patch,
    memo: kopf.Memo,
    logger: Any,
) -> None:
    """Reconcile one ModelPromotion once, under its own lock, and patch what changed."""
    context: OperatorContext = memo["context"]
    memory: ResourceMemory | None = memo.get("resource")
    if memory is None:
        memory = memo["resource"] = ResourceMemory()
    async with memory.lock:
        # kopf may hand a body older than our last write; we are the status' only writer.
        old: dict[str, Any] = memory.written or dict(body.get("status") or {})
        try:
            spec = parse_spec(dict(body["spec"]))
        except InvalidSpec as exc:
            patch.status.update({"phase": PromotionPhase.FAILED.value, "message": str(exc)})
            raise kopf.PermanentError(str(exc)) from exc
        generation = int(body["metadata"].get("generation", 1))
        status = PromotionStatus.model_validate(old)
        promotion = ModelPromotion(name, namespace, generation, spec, status)
        try:
            result = await reconcile(promotion, _deps(body, spec, namespace, context, memory))
        except ApiException as exc:
            logger.warning("Kubernetes API error, retrying", extra={"status": exc.status})
            message = f"Kubernetes API: {exc.status} {exc.reason}"
            raise kopf.TemporaryError(message, delay=10) from exc
        new = result.status.to_json()
        diff = {k: new.get(k) for k in set(old) | set(new) if old.get(k) != new.get(k)}
        if not diff:
            return
        patch.status.update(diff)
        memory.written = new
        if context.metrics is not None:
            context.metrics.record(namespace, name, result)
        for change in result.changes:
            logger.info(
                "phase changed",
                extra={"from": change.left, "to": change.entered, "message": new.get("message")},
            )


def _deps(
    body: kopf.Body,
    spec: ModelPromotionSpec,
    namespace: str,
    context: OperatorContext,
    memory: ResourceMemory,
) -> Deps:
    settings = context.settings
    credentials = memory.credentials.read(spec.mlflow.credentials_secret_ref, namespace)
    registry = Registry(spec.mlflow.tracking_uri, credentials, settings.mlflow_timeout_seconds)
    return Deps(
        registry=registry,
        cluster=context.cluster,
        live=context.live,
        events=KopfEvents(body),
        adopt=lambda objects: kopf.adopt(objects, owner=body),
        alias_poll_seconds=settings.alias_poll_seconds,
        scratch=memory.scratch,
    )
