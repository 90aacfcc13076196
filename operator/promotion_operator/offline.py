"""Offline gates: a candidate version's MLflow metrics (or tags) against the spec's gates.

Shared by the operator's Evaluating step and `mlrollout gates check`, so a laptop or CI sees
exactly the table the operator would write.
"""

from __future__ import annotations

from dataclasses import dataclass

from .gates import evaluate, overall
from .ports import RegistryPort
from .registry import ModelVersion, NotFound, Run
from .spec import Gate, ModelPromotionSpec
from .status import GateStatus, MeasurementPhase


@dataclass(frozen=True)
class OfflineResult:
    version: ModelVersion
    measurements: list[GateStatus]

    @property
    def verdict(self) -> MeasurementPhase | None:
        return overall([m.phase for m in self.measurements])


async def resolve_version(registry: RegistryPort, spec: ModelPromotionSpec) -> str:
    """The version the spec names, directly or through its alias (NotFound if unset)."""
    if spec.model.version is not None:
        return spec.model.version
    assert spec.model.alias is not None
    return (await registry.version_for_alias(spec.model.name, spec.model.alias)).version


async def evaluate_offline(
    registry: RegistryPort, spec: ModelPromotionSpec, version: str
) -> OfflineResult:
    """Every offline gate measured once. Raises RegistryUnavailable / NotFound for the caller."""
    model_version = await registry.model_version(spec.model.name, version)
    run = await registry.run(model_version.run_id) if model_version.run_id else None
    measurements = [await _measure(registry, spec, gate, model_version, run) for gate in spec.gates]
    return OfflineResult(model_version, measurements)


async def _measure(
    registry: RegistryPort,
    spec: ModelPromotionSpec,
    gate: Gate,
    model_version: ModelVersion,
    run: Run | None,
) -> GateStatus:
    source = f"run {run.run_id[:8]}" if run is not None else f"version {model_version.version}"
    value = metric_value(gate, model_version, run)
    baseline_value: float | None = None
    if gate.baseline is not None:
        try:
            base = await registry.version_for_alias(spec.model.name, gate.baseline)
            base_run = await registry.run(base.run_id) if base.run_id else None
            baseline_value = metric_value(gate, base, base_run)
            source += f" vs {gate.baseline}=v{base.version}"
        except NotFound:
            baseline_value = None  # no champion yet: the gate's onNoData decides
    return evaluate(gate, value, baseline_value, source=source)


def metric_value(gate: Gate, model_version: ModelVersion, run: Run | None) -> float | None:
    """A run metric, or a numeric version tag when the gate's source is `tag`."""
    if gate.source == "metric":
        return run.metrics.get(gate.metric) if run is not None else None
    raw = model_version.tags.get(gate.metric)
    try:
        return float(raw) if raw is not None else None
    except ValueError:
        return None
