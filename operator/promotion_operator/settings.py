"""Operator configuration from `MLROLLOUT_OPERATOR_*` environment variables (one place)."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class OperatorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MLROLLOUT_OPERATOR_", frozen=True)

    namespaces: list[str] = Field(
        default_factory=list,
        description="Namespaces to watch (comma-separated or JSON list); empty = cluster-wide.",
    )
    reconcile_interval_seconds: float = Field(
        default=5.0, gt=0, description="How often each ModelPromotion is re-examined."
    )
    alias_poll_seconds: float = Field(
        default=30.0, gt=0, description="How often an MLflow alias named in a spec is re-read."
    )
    mlflow_timeout_seconds: float = Field(
        default=10.0, gt=0, description="Timeout of one MLflow REST call."
    )
    mlflow_credential_hosts: list[str] = Field(
        default_factory=list,
        description="Hosts (shell patterns, e.g. '*.internal') that may receive the MLflow "
        "credentials a ModelPromotion names; empty = in-cluster Service names only.",
    )
    kubernetes_timeout_seconds: float = Field(
        default=30.0, gt=0, description="Timeout of one Kubernetes API call (not the watches)."
    )
    crd_wait_seconds: float = Field(
        default=120.0, gt=0,
        description="How long a namespaced operator waits at start-up for its CRD to be served.",
    )  # fmt: skip
    metrics_port: int = Field(
        default=9090, ge=0, le=65535, description="Prometheus metrics port; 0 turns it off."
    )
    liveness_port: int = Field(
        default=8081, ge=0, le=65535, description="kopf liveness endpoint (/healthz); 0 = off."
    )
    watch_server_timeout_seconds: int = Field(
        default=300, ge=1, description="Server-side timeout of each watch request."
    )
    webhook_url: str = Field(
        default="",
        description="Where a JSON notification is POSTed at each verdict and each wait for "
        "approval (from a Secret: such URLs often hold a token); empty = no notifications.",
    )
    webhook_timeout_seconds: float = Field(
        default=5.0, gt=0, description="Timeout of one notification POST."
    )
    webhook_max_attempts: int = Field(
        default=6, ge=1, le=20,
        description="Attempts per notification, 1, 2, 4, 8, 16 s... apart (connection errors, "
        "timeouts, 429 and 5xx are retried; another 4xx is not).",
    )  # fmt: skip
    pod_proxy_url: str = Field(
        default="",
        description="Base URL of a `kubectl proxy` (e.g. http://127.0.0.1:8001). When set, the "
        "operator reaches serving pods through the API server's pod proxy "
        "({url}/api/v1/namespaces/{ns}/pods/{name}:{port}/proxy/...) instead of at their pod "
        "IPs: for running the operator outside the cluster.",
    )

    @field_validator("pod_proxy_url")
    @classmethod
    def _pod_proxy_url(cls, url: str) -> str:
        """Empty, or an http(s) URL without query or fragment (paths are appended to it)."""
        if not url:
            return url
        try:
            parts = urlsplit(url)
            valid = parts.scheme in {"http", "https"} and bool(parts.hostname)
            parts.port  # noqa: B018 - raises ValueError on a port that is not a number
        except ValueError:
            valid = False
        if not valid or "?" in url or "#" in url:
            raise ValueError(
                "MLROLLOUT_OPERATOR_POD_PROXY_URL must be empty or the http(s):// base URL of a "
                "`kubectl proxy`, without query or fragment (e.g. http://127.0.0.1:8001)"
            )
        return url.rstrip("/")
