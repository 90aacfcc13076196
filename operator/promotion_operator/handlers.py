"""The only module with kopf decorators: each handler is a few lines that delegate.

Run with `kopf run -m promotion_operator.handlers` (development) or `python -m
promotion_operator` (the container; it reads the namespaces to watch from the settings).
"""

from __future__ import annotations

import logging
from typing import Any

import kopf
from kubernetes import config

from .cluster import Cluster
from .driver import OperatorContext, drive
from .live import Live
from .metrics import OperatorMetrics
from .settings import OperatorSettings
from .spec import GROUP, PLURAL, VERSION

SETTINGS = OperatorSettings()
RESOURCE = (GROUP, VERSION, PLURAL)


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    """All framework tuning in one place, and the shared clients put in `memo`."""
    settings.persistence.finalizer = f"{GROUP}/finalizer"
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=GROUP, key="last-handled-configuration"
    )
    settings.watching.server_timeout = SETTINGS.watch_server_timeout_seconds
    settings.watching.client_timeout = SETTINGS.watch_server_timeout_seconds + 10
    settings.posting.level = logging.INFO
    try:
        config.load_incluster_config()  # type: ignore[no-untyped-call]
    except config.ConfigException:
        config.load_kube_config()  # type: ignore[no-untyped-call]
    cluster = Cluster()
    metrics = OperatorMetrics()
    if SETTINGS.metrics_port:
        metrics.serve(SETTINGS.metrics_port)
    memo["context"] = OperatorContext(SETTINGS, cluster, Live(cluster), metrics)


@kopf.on.create(*RESOURCE)
@kopf.on.update(*RESOURCE, field="spec")
@kopf.on.resume(*RESOURCE)
async def on_change(**kwargs: Any) -> None:
    await _drive(**kwargs)


@kopf.timer(*RESOURCE, interval=SETTINGS.reconcile_interval_seconds, sharp=False)
async def on_timer(**kwargs: Any) -> None:
    await _drive(**kwargs)


async def _drive(
    *, body: kopf.Body, name: str, namespace: str, patch: kopf.Patch, memo: kopf.Memo,
    logger: Any, **_: Any,
) -> None:  # fmt: skip
    await drive(body=body, name=name, namespace=namespace, patch=patch, memo=memo, logger=logger)
