"""MLflow credentials from the Secret a ModelPromotion names, cached briefly per resource.

Their values go to the MLflow client only: never into the status, an Event, a log or a metric,
and only to an MLflow host the operator's settings allow (`mlflow_credential_hosts`): whoever
may write a ModelPromotion must not be able to send a Secret to a server of their choosing.
"""

from __future__ import annotations

import base64
import fnmatch
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from kubernetes.client.exceptions import ApiException

from .registry import Credentials
from .spec import SecretRef

TTL_S = 60.0
# In-cluster Service names that cannot be a public host: `mlflow` (same namespace),
# `mlflow.ns.svc`, `mlflow.ns.svc.cluster.local` (`mlflow.ns` could be a public domain).
IN_CLUSTER_HOSTS = ("*.svc", "*.svc.cluster.local")


class CredentialsRefused(Exception):
    """The spec asks to send credentials to a host the operator may not send them to."""


class CredentialsMissing(Exception):
    """The Secret the spec names, or a key in it, is not there (or not readable): retried, as
    creating the Secret mends it without a change to the spec."""


def check_host(tracking_uri: str, allowed: list[str]) -> None:
    """Raise CredentialsRefused unless ``tracking_uri``'s host matches ``allowed`` (shell
    patterns; empty: in-cluster Service names only)."""
    host = (urlsplit(tracking_uri).hostname or "").lower()
    patterns = allowed or list(IN_CLUSTER_HOSTS)
    same_namespace = not allowed and "." not in host and host != ""
    if same_namespace or any(fnmatch.fnmatchcase(host, p.lower()) for p in patterns):
        return
    raise CredentialsRefused(
        f"spec.mlflow.trackingUri host {host!r} is not one the operator sends MLflow credentials "
        f"to ({', '.join(patterns)}); use the in-cluster MLflow Service, or add the host to "
        "the operator's MLROLLOUT_OPERATOR_MLFLOW_CREDENTIAL_HOSTS"
    )


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
        where = f"Secret {ref.name!r} (spec.mlflow.credentialsSecretRef)"
        try:
            data = await read_secret(ref.name, namespace)
        except ApiException as exc:
            if exc.status == 404:
                raise CredentialsMissing(
                    f"{where} does not exist in namespace {namespace}; create it, with keys "
                    f"{ref.username_key!r} and {ref.password_key!r} (or {ref.token_key!r})"
                ) from None
            if exc.status == 403:
                raise CredentialsMissing(
                    f"the operator may not read {where}: add its name to the chart's "
                    "operator.mlflowCredentialSecrets"
                ) from None
            raise

        def value(key: str) -> str | None:
            raw = data.get(key)
            return base64.b64decode(raw).decode() if raw else None

        values = Credentials(
            value(ref.username_key), value(ref.password_key), value(ref.token_key),
            source=f"Secret {ref.name!r}",
        )  # fmt: skip
        if not values.auth():
            raise CredentialsMissing(
                f"{where} has neither {ref.username_key!r} and {ref.password_key!r} nor "
                f"{ref.token_key!r}; it holds the keys {sorted(data)}"
            )
        self.values = values
        self.ref, self.read_at = ref, time.monotonic()
        return self.values
