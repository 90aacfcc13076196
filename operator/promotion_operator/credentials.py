"""MLflow credentials from the Secret a ModelPromotion names, cached briefly per resource.

Their values go to the MLflow client only: never into the status, an Event, a log or a metric.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass

import kopf
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from .registry import Credentials
from .spec import SecretRef

TTL_S = 60.0


@dataclass
class CachedCredentials:
    """The last Secret read for one resource: (which Secret, when, what it held)."""

    ref: SecretRef | None = None
    read_at: float = 0.0
    values: Credentials | None = None

    def read(self, ref: SecretRef | None, namespace: str) -> Credentials | None:
        if ref is None:
            return None
        if self.values is not None and self.ref == ref and time.monotonic() - self.read_at < TTL_S:
            return self.values
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

        self.values = Credentials(
            value(ref.username_key), value(ref.password_key), value(ref.token_key)
        )
        self.ref, self.read_at = ref, time.monotonic()
        return self.values
