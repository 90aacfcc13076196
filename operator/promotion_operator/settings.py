"""Operator configuration from `MLROLLOUT_OPERATOR_*` environment variables (one place)."""

from __future__ import annotations

from pydantic import Field
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
