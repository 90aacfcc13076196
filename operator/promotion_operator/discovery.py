"""What kopf needs to know before it starts watching, when it watches named namespaces.

Given patterns, kopf lists the cluster's namespaces to match them. Given exact names it still
tries, and a namespaced operator may not list namespaces (its RBAC is a Role per namespace):
kopf retried the refused list for 54 s before it fell back to the names, and no watch started
until then. With exact names, kopf's scanning is turned off instead; it then discovers the
resources once, at start-up, so the operator first waits until the CRD is served.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Collection

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from .spec import GROUP, PLURAL

log = logging.getLogger(__name__)
CRD_NAME = f"{PLURAL}.{GROUP}"
GLOB_CHARACTERS = frozenset("*?[!")
REQUEST_TIMEOUT_S = 10


def exact_names(namespaces: Collection[str]) -> bool:
    """Named namespaces only: no kopf pattern (a glob, or a `!` negation) among them."""
    return bool(namespaces) and not any(GLOB_CHARACTERS & set(name) for name in namespaces)


class CrdNotServed(Exception):
    """The ModelPromotion CRD is not established; the message says what to do."""


def _established() -> bool:
    api = client.ApiextensionsV1Api()
    try:
        crd = api.read_custom_resource_definition(CRD_NAME, _request_timeout=REQUEST_TIMEOUT_S)
    except ApiException as exc:
        if exc.status == 404:
            return False
        raise
    conditions = (crd.status.conditions if crd.status else None) or []
    return any(c.type == "Established" and c.status == "True" for c in conditions)


async def wait_until_served(timeout_s: float, poll_s: float = 1.0) -> None:
    """Until the CRD is established (Helm installs it beside the operator), or CrdNotServed."""
    started = time.monotonic()
    said = started
    while not await asyncio.to_thread(_established):
        waited = time.monotonic() - started
        if waited > timeout_s:
            raise CrdNotServed(
                f"CRD {CRD_NAME} not established after {waited:.0f}s: install it "
                "(kubectl apply -f k8s/crds/, or the chart with crds.install=true)"
            )
        if time.monotonic() - said >= 10:
            log.info("waiting for the CRD", extra={"crd": CRD_NAME, "waited_s": round(waited)})
            said = time.monotonic()
        await asyncio.sleep(poll_s)
