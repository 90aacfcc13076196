"""MLflow credentials from the Secret a ModelPromotion names, cached briefly per resource.

Their values go to the MLflow client only: never into the status, an Event, a log or a metric.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from .registry import Credentials
from .spec import SecretRef

TTL_S = 60.0
# (Secret name, namespace) → its data, base64-encoded (`Cluster.read_secret`)
SecretReader = Callable[[str, str], Awaitable[dict[str, str]]]


@dataclass
class CachedCredentials:
    """The last Secret read for one resource: which Secret, when, and what it held."""

    ref: SecretRef | None = None
    read_at: float = 0.0
    values: Credentials | None = None

    async def read(
        self, ref: SecretRef | None, namespace: str, read_secret: SecretReader
    ) -> Credentials | None:
        if ref is None:
            return None
        if self.values is not None and self.ref == ref and time.monotonic() - self.read_at < TTL_S:
            return self.values
        data = await read_secret(ref.name, namespace)

        def value(key: str) -> str | None:
            raw = data.get(key)
            return base64.b64decode(raw).decode() if raw else None

        self.values = Credentials(
            value(ref.username_key), value(ref.password_key), value(ref.token_key)
        )
        self.ref, self.read_at = ref, time.monotonic()
        return self.values
