"""The only module with kopf decorators: each handler is a few lines that delegate.

Run with `kopf run -m promotion_operator.handlers` (development) or `python -m
promotion_operator` (the container; it reads the namespaces to watch from the settings).
"""

from __future__ import annotations

import logging
from typing import Any

import kopf
from kubernetes import config

from . import discovery
from .manifests import PROMOTION_LABEL
from .settings import OperatorSettings
from .spec import GROUP, PLURAL, VERSION
from .wiring import OperatorContext, build_context

SETTINGS = OperatorSettings()
RESOURCE = (GROUP, VERSION, PLURAL)


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    """All framework tuning in one place, and the shared clients put in `memo`."""
    # No handler needs a finalizer; naming ours lets kopf remove it from resources that an
    # older version of this operator (with a kopf timer) put it on.
    settings.persistence.finalizer = f"{GROUP}/finalizer"
    # kopf's own log lines never become Events: only ours (wiring.KopfEvents) are posted.
    settings.posting.level = logging.CRITICAL + 1
    settings.watching.server_timeout = SETTINGS.watch_server_timeout_seconds
    settings.watching.client_timeout = SETTINGS.watch_server_timeout_seconds + 10
    settings.networking.request_timeout = SETTINGS.kubernetes_timeout_seconds
    settings.networking.connect_timeout = SETTINGS.kubernetes_timeout_seconds
    try:
        config.load_incluster_config()  # type: ignore[no-untyped-call]
    except config.ConfigException:
        config.load_kube_config()  # type: ignore[no-untyped-call]
    if discovery.exact_names(SETTINGS.namespaces):
        settings.scanning.disabled = True  # no namespace listing: see discovery.py
        try:
            await discovery.wait_until_served(SETTINGS.crd_wait_seconds)
        except discovery.CrdNotServed as exc:
            raise kopf.PermanentError(str(exc)) from None
    try:
        context = build_context(SETTINGS)
    except ValueError as exc:  # a webhook URL that cannot be used: say so, and stop
        raise kopf.PermanentError(str(exc)) from None
    if SETTINGS.metrics_port:
        context.metrics.serve(SETTINGS.metrics_port)
    memo["context"] = context


@kopf.on.event(*RESOURCE)
async def on_event(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    context: OperatorContext = memo["context"]
    context.promotions.seen(event.get("type"), dict(event["object"]))


@kopf.on.event("apps", "v1", "deployments", labels={PROMOTION_LABEL: kopf.PRESENT})
async def on_deployment(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    """A serving Deployment changed: the promotion waiting for it looks now, not in 5 s."""
    context: OperatorContext = memo["context"]
    metadata = event["object"]["metadata"]
    context.promotions.workload_changed(metadata["namespace"], metadata["labels"][PROMOTION_LABEL])


@kopf.on.cleanup()
async def stop(memo: kopf.Memo, **_: Any) -> None:
    context: OperatorContext = memo["context"]
    await context.promotions.stop()
    await context.notifier.stop()
