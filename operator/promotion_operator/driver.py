"""Glue between kopf and the reconciler: builds the dependencies, persists the status once.

Kept out of `handlers.py` so the decorators stay a few lines each, and out of `reconcile.py` so
the step logic stays free of I/O set-up.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import kopf
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from .cluster import Cluster
from .live import Live
from .metrics import OperatorMetrics
from .reconcile import Deps, Promotion, reconcile
from .registry import Credentials, Registry
from .settings import OperatorSettings
from .spec import InvalidSpec, ModelPromotionSpec, SecretRef, parse_spec

_CREDENTIALS_TTL_S = 60.0


async def drive(
    *,
    body: kopf.Body,
    name: str,
    namespace: str,
    patch: kopf.Patch,
    memo: Any,
    logger: Any,
) -> None:
    """Reconcile one ModelPromotion once, under its own lock, and patch what changed."""
    lock: asyncio.Lock = memo.setdefault("lock", asyncio.Lock())
    async with lock:
        # kopf may hand a body older than our last write; we are the status' only writer.
        old: dict[str, Any] = memo.get("status") or dict(body.get("status") or {})
        try:
            spec = parse_spec(dict(body["spec"]))
        except InvalidSpec as exc:
            patch.status.update({"phase": "Failed", "message": str(exc)})
            raise kopf.PermanentError(str(exc)) from exc
        deps = _deps(body, spec, namespace, memo)
        promotion = Promotion(
            name, namespace, int(body["metadata"].get("generation", 1)), spec, old
        )
        try:
            new = await reconcile(promotion, deps)
        except ApiException as exc:
            logger.warning("Kubernetes API error, retrying", extra={"status": exc.status})
            message = f"Kubernetes API: {exc.status} {exc.reason}"
            raise kopf.TemporaryError(message, delay=10) from exc
        diff = {k: new.get(k) for k in set(old) | set(new) if old.get(k) != new.get(k)}
        if diff:
            patch.status.update(diff)
            memo["status"] = new
            metrics: OperatorMetrics | None = memo.get("metrics")
            if metrics is not None:
                metrics.record(namespace, name, old, new, datetime.now(UTC))
            if "phase" in diff:
                logger.info(
                    "phase changed",
                    extra={"from": old.get("phase"), "to": new.get("phase"),
                           "message": new.get("message")},
                )  # fmt: skip


def _deps(body: kopf.Body, spec: ModelPromotionSpec, namespace: str, memo: Any) -> Deps:
    settings: OperatorSettings = memo["settings"]
    cluster: Cluster = memo["cluster"]
    live: Live = memo["live"]
    credentials = _credentials(spec.mlflow.credentials_secret_ref, namespace, memo)
    registry = Registry(spec.mlflow.tracking_uri, credentials, settings.mlflow_timeout_seconds)
    scratch: dict[str, Any] = memo.setdefault("scratch", {})
    return Deps(
        registry=registry,
        cluster=cluster,
        live=live,
        emit=_emitter(body),
        adopt=lambda objects: kopf.adopt(objects, owner=body),
        alias_poll_seconds=settings.alias_poll_seconds,
        scratch=scratch,
    )


def _emitter(body: kopf.Body) -> Callable[[str, str, str], None]:
    def emit(type_: str, reason: str, message: str) -> None:
        kopf.event(body, type=type_, reason=reason, message=message[:1000])

    return emit


def _credentials(ref: SecretRef | None, namespace: str, memo: Any) -> Credentials | None:
    """Read the referenced Secret (cached briefly); its values never reach status or logs."""
    if ref is None:
        return None
    cached = memo.get("credentials")
    if cached and cached[0] == ref and time.monotonic() - cached[1] < _CREDENTIALS_TTL_S:
        return cached[2]  # type: ignore[no-any-return]
    try:
        secret = client.CoreV1Api().read_namespaced_secret(ref.name, namespace)
    except ApiException as exc:
        raise kopf.TemporaryError(
            f"cannot read Secret {namespace}/{ref.name} for MLflow credentials: {exc.reason}",
            delay=30,
        ) from exc
    data = secret.data or {}

    def value(key: str) -> str | None:
        raw = data.get(key)
        return base64.b64decode(raw).decode() if raw else None

    found = Credentials(value(ref.username_key), value(ref.password_key), value(ref.token_key))
    memo["credentials"] = (ref, time.monotonic(), found)
    return found
