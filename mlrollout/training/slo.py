"""Service-level objectives a trained model must meet, from flags or a small YAML file."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError


class SloError(ValueError):
    """The SLO file or a threshold is invalid; the message names the key."""


class Slo(BaseModel):
    """Thresholds with sensible defaults for a tabular classifier served online."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_accuracy: float = Field(default=0.90, ge=0, le=1)
    max_latency_p95_ms: float = Field(default=50.0, gt=0)
    max_model_size_bytes: int = Field(default=50 * 1024 * 1024, gt=0)

    def check(self, metrics: dict[str, float]) -> dict[str, bool]:
        """Which SLOs the metrics meet, by SLO name."""
        return {
            "accuracy": metrics["accuracy"] >= self.min_accuracy,
            "latency_p95": metrics["latency_p95_ms"] <= self.max_latency_p95_ms,
            "model_size": metrics["model_size_bytes"] <= self.max_model_size_bytes,
        }


def load_slo(path: Path | None, **overrides: float | None) -> Slo:
    """Defaults, then the YAML file, then flags (flags win)."""
    values: dict[str, object] = {}
    if path is not None:
        try:
            loaded = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise SloError(f"cannot read SLO file {path}: {exc}") from exc
        if not isinstance(loaded, dict):
            raise SloError(f"SLO file {path} must be a mapping of thresholds")
        values.update(loaded)
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return Slo.model_validate(values)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"])
        source = f" in {path}" if path is not None else ""
        raise SloError(f"invalid SLO {key!r}{source}: {err['msg']}") from None
