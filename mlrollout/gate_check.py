"""`mlrollout gates check`: a ModelPromotion's offline gates, evaluated without a cluster.

The same code as the operator's Evaluating step (`promotion_operator.offline`), so CI can fail
a merge request on exactly the verdict the operator would reach.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from promotion_operator.offline import OfflineResult, evaluate_offline, resolve_version
from promotion_operator.registry import Credentials, NotFound, Registry, RegistryUnavailable
from promotion_operator.spec import KIND, InvalidSpec, ModelPromotionSpec, parse_spec
from promotion_operator.status import MeasurementPhase

EXIT_PASSED, EXIT_FAILED, EXIT_USAGE, EXIT_UNAVAILABLE = 0, 1, 2, 3


class CheckError(Exception):
    """A problem with the input or the registry, with the exit code it maps to."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Checked:
    name: str
    spec: ModelPromotionSpec
    result: OfflineResult


def load_promotions(path: Path) -> list[tuple[str, ModelPromotionSpec]]:
    """Every ModelPromotion in a (multi-document) YAML file, parsed and validated."""
    try:
        documents = [d for d in yaml.safe_load_all(path.read_text()) if d]
    except (OSError, yaml.YAMLError) as exc:
        raise CheckError(f"cannot read {path}: {exc}", EXIT_USAGE) from exc
    found: list[tuple[str, ModelPromotionSpec]] = []
    for doc in documents:
        if not isinstance(doc, dict) or doc.get("kind") != KIND:
            continue
        name = str((doc.get("metadata") or {}).get("name", "?"))
        try:
            found.append((name, parse_spec(doc.get("spec") or {})))
        except InvalidSpec as exc:
            raise CheckError(f"{path}: ModelPromotion {name}: {exc}", EXIT_USAGE) from exc
    if not found:
        raise CheckError(f"{path} holds no {KIND}", EXIT_USAGE)
    return found


def _credentials() -> Credentials:
    env = os.environ
    return Credentials(
        env.get("MLFLOW_TRACKING_USERNAME"),
        env.get("MLFLOW_TRACKING_PASSWORD"),
        env.get("MLFLOW_TRACKING_TOKEN"),
    )


async def _check_one(
    name: str, spec: ModelPromotionSpec, tracking_uri: str | None, timeout_s: float
) -> Checked:
    uri = tracking_uri or spec.mlflow.tracking_uri
    registry = Registry(uri, _credentials(), timeout_s)
    try:
        version = await resolve_version(registry, spec)
        return Checked(name, spec, await evaluate_offline(registry, spec, version))
    except RegistryUnavailable as exc:
        message = f"{exc}; pass --tracking-uri to reach it from here"
        raise CheckError(message, EXIT_UNAVAILABLE) from exc
    except NotFound as exc:
        raise CheckError(f"ModelPromotion {name}: {exc}", EXIT_FAILED) from exc


def check_file(path: Path, tracking_uri: str | None, timeout_s: float = 10) -> list[Checked]:
    promotions = load_promotions(path)
    return [asyncio.run(_check_one(n, s, tracking_uri, timeout_s)) for n, s in promotions]


def exit_code(checked: list[Checked]) -> int:
    passed = all(c.result.verdict is MeasurementPhase.SUCCESSFUL for c in checked)
    return EXIT_PASSED if passed else EXIT_FAILED


def table_rows(checked: Checked) -> list[dict[str, Any]]:
    """The rows the operator writes to `status.gates`, in the same shape."""
    return [m.to_json() for m in checked.result.measurements]


def render(checked: list[Checked]) -> str:
    lines: list[str] = []
    for item in checked:
        spec, version = item.spec, item.result.version
        verdict = item.result.verdict
        lines.append(
            f"{item.name}: {spec.model.name} version {version.version} "
            f"(run {version.run_id or '-'}) → {verdict.value if verdict else 'Running'}"
        )
        lines.append(f"  {'gate':<36} {'value':>10} {'threshold':>10} {'baseline':>10}  phase")
        for m in item.result.measurements:
            lines.append(
                f"  {m.name:<36} {_num(m.value):>10} {_num(m.threshold):>10} "
                f"{_num(m.baseline_value):>10}  {m.phase.value}"
            )
            if m.phase is not MeasurementPhase.SUCCESSFUL:
                lines.append(f"    {m.message}")
        lines += live_gate_notes(spec)
    return "\n".join(lines)


def live_gate_notes(spec: ModelPromotionSpec) -> list[str]:
    """The verification's gates, judged only live, and what each needs that the spec lacks."""
    gates = spec.rollout.verification.gates
    if not gates:
        return []
    limits = (spec.serving.resources or {}).get("limits") or {}
    notes = [f"  judged live, once rolled out: {', '.join(g.display_name for g in gates)}"]
    if any(g.metric == "memory_limit_ratio" for g in gates) and "memory" not in limits:
        notes.append(
            "    memory_limit_ratio has no limit to compare with: set "
            "spec.serving.resources.limits.memory (else it has no data, and onNoData decides)"
        )
    if any(g.metric in ("input_drift_psi_max", "prediction_shift") for g in gates):
        notes.append(
            "    drift gates need the model's reference profile (mlrollout train logs one) and "
            "real traffic while verifying: the smoke load is not counted"
        )
    if any(g.metric == "prediction_agreement" for g in gates):
        notes.append(
            "    prediction_agreement is judged in a shadow, on at least 100 rows of real "
            "traffic the champion mirrors to it (the first version, with no champion, skips it)"
        )
    return notes


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"
