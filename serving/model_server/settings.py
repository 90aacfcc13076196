"""Server configuration, read from `MODEL_SERVER_*` environment variables (one place)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServerSettings(BaseSettings):
    """Every knob of the model server. Each field is `MODEL_SERVER_<FIELD>` in the environment."""

    model_config = SettingsConfigDict(env_prefix="MODEL_SERVER_", frozen=True, extra="ignore")

    model_uri: str = Field(
        description=(
            "The model to serve: `models:/<name>/<version>`, `models:/<name>@<alias>` "
            "(resolved through MLFLOW_TRACKING_URI), `runs:/...`, or a local MLflow model "
            "directory."
        ),
    )
    model_name: str | None = Field(
        default=None,
        description="Name served under /v2/models/{name}; defaults to the registered model's name "
        "or the model directory's name.",
    )
    host: str = Field(default="0.0.0.0", description="Interface to listen on.")
    port: int = Field(default=8080, ge=1, le=65535, description="TCP port to listen on.")
    workers: int = Field(
        default=1,
        ge=1,
        description="uvicorn worker processes. On Kubernetes prefer 1 and scale with replicas.",
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        default="info", description="Log level of the JSON log lines."
    )
    max_request_bytes: int = Field(
        default=8 * 1024 * 1024,
        ge=1024,
        description="Largest accepted request body; larger bodies get 413.",
    )
    max_batch_rows: int = Field(
        default=64,
        ge=1,
        description="Concurrent requests are micro-batched into one predict call of at most this "
        "many rows. 1 turns micro-batching off.",
    )
    max_pending_requests: int = Field(
        default=128,
        ge=1,
        description="Inference requests admitted at once (in flight plus queued); more are "
        "answered 503 with Retry-After at once instead of queueing without bound. Health and "
        "metrics are never refused, so an overloaded pod stays Ready.",
    )
    retry_after_seconds: int = Field(
        default=1, ge=0, description="The Retry-After header of a shed (503) request."
    )
    inference_threads: int = Field(
        default=1,
        ge=1,
        description="Threads a single predict call may use: overrides the model's n_jobs / "
        "nthread and limits BLAS/OpenMP pools, so one row does not pay thread-pool start-up.",
    )
    override_model_threads: bool = Field(
        default=True,
        description="Apply inference_threads to the model's own n_jobs/nthread at load time. "
        "False keeps the values the model was trained with (the slow path; for benchmarks).",
    )
    trusted_types: list[str] = Field(
        default_factory=list,
        description="Extra types trusted when loading skops-serialised scikit-learn models, "
        "beyond the built-in allow-list (comma-separated or a JSON list).",
    )
    trust_model_code: bool = Field(
        default=False,
        description="Allow models whose loading runs arbitrary code (pickle/cloudpickle "
        "scikit-learn models). Only for models from a trusted registry.",
    )
    load_attempts: int = Field(
        default=3,
        ge=1,
        description="How often to try loading the model (with backoff) before giving up and "
        "staying not-ready; covers a tracking server that is briefly unreachable.",
    )
    load_retry_seconds: float = Field(
        default=2.0, ge=0, description="First back-off between load attempts; doubles each time."
    )
    shutdown_delay_seconds: float = Field(
        default=0.0,
        ge=0,
        description="After SIGTERM, report not-ready but keep serving this long before draining, "
        "so endpoints controllers stop routing to the pod first.",
    )
    drain_timeout_seconds: float = Field(
        default=20.0,
        gt=0,
        description="Then, how long in-flight requests may take before the server stops anyway. "
        "Delay + drain must fit in the pod's terminationGracePeriodSeconds.",
    )
    # Shadow mirroring, champion side: every serving pod may be a champion.
    shadow_url: str | None = Field(
        default=None,
        description="Base URL of a shadow model server (`http://<name>-shadow.<ns>.svc`). While "
        "it answers GET /mirror with a share, that share of the requests answered here is sent to "
        "it in the background; unset or unreachable (the usual case), nothing is mirrored.",
    )
    shadow_poll_seconds: float = Field(
        default=3.0, gt=0, description="How often to ask the shadow for its share (GET /mirror)."
    )
    mirror_queue: int = Field(
        default=256,
        ge=1,
        description="Mirrored requests waiting to be sent; past it they are dropped (and counted), "
        "so a slow shadow never holds up or grows the champion.",
    )
    mirror_concurrency: int = Field(
        default=4, ge=1, description="Mirrored requests in flight to the shadow at once."
    )
    mirror_timeout_seconds: float = Field(
        default=2.0, gt=0, description="How long a request to the shadow may take (then failed)."
    )
    # Shadow mirroring, shadow side.
    mirror_share: float = Field(
        default=0,
        ge=0,
        le=100,
        description="Percentage of their requests champions should mirror here. Above 0 this "
        "server is a shadow: it takes POST /mirror and compares its predictions with the "
        "champion's.",
    )
    agreement_tolerance: float = Field(
        default=0,
        ge=0,
        description="A shadow agrees with a numeric champion prediction within this absolute "
        "difference (0: exactly; labels are compared as labels).",
    )

    @field_validator("shadow_url")
    @classmethod
    def _base_url(cls, url: str | None) -> str | None:
        if url is None or not url.strip():
            return None
        if not url.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// base URL")
        return url.rstrip("/")
