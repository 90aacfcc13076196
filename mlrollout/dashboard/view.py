"""One ModelPromotion as the page draws it: a compact JSON document made from the typed status
and spec, so the page never parses raw Kubernetes objects (and the operator's models stay the one
reading of a status). An invalid spec or status still gives a card, saying what is wrong."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, ValidationError

from promotion_operator.control import InvalidRequest, read_request
from promotion_operator.spec import InvalidSpec, ModelPromotionSpec, parse_spec
from promotion_operator.status import PromotionStatus, read_status

# The live metrics the page charts over time, in this order (when the samples have them).
CHARTED_METRICS = ("latency_p95_ms", "error_rate")


def key_of(namespace: str, name: str) -> str:
    return f"{namespace}/{name}"


def promotion_view(obj: dict[str, Any], mlflow_url: str | None = None) -> dict[str, Any]:
    """The page's view of ``obj``; links go to ``mlflow_url`` if given, else to the spec's
    tracking URI (when it is http(s): a browser cannot open an in-cluster name anyway). Never
    raises: an object it cannot read becomes a card saying so, and the others still show."""
    try:
        return _view(obj, mlflow_url)
    except Exception as exc:
        found = obj.get("metadata")
        metadata: dict[str, Any] = found if isinstance(found, dict) else {}
        namespace, name = str(metadata.get("namespace", "")), str(metadata.get("name", ""))
        return {
            **_view({"metadata": {"namespace": namespace, "name": name}}, None),
            "problems": [f"cannot show this ModelPromotion: {type(exc).__name__}: {exc}"],
        }


def _view(obj: dict[str, Any], mlflow_url: str | None) -> dict[str, Any]:
    metadata = obj.get("metadata") or {}
    namespace, name = str(metadata.get("namespace", "")), str(metadata.get("name", ""))
    spec, spec_error = _spec(obj.get("spec") or {})
    status, status_error = _status(obj)
    tracking_uri = spec.mlflow.tracking_uri if spec else _raw_tracking_uri(obj)
    model = (spec.model.name if spec else None) or (
        status.candidate.model if status.candidate else None
    )
    times = _dump(status, "phaseSince", "pausedAt") or {}
    return {
        "key": key_of(namespace, name),
        "namespace": namespace,
        "name": name,
        "generation": metadata.get("generation"),
        "phase": status.current_phase.value,
        "phaseSince": times["phaseSince"],
        "message": status.message or "",
        "paused": bool(spec and spec.paused) or status.paused_at is not None,
        "pausedAt": times["pausedAt"],
        "approval": _dump(status.approval),
        "model": model,
        "wanted": _wanted(spec),
        "alias": spec.promotion.alias if spec else None,
        "candidate": _dump(status.candidate, "version", "runId", "startedAt"),
        "serving": status.serving_version,
        "lastKnownGood": status.last_known_good_version,
        "gates": _gates(status, spec),
        "verification": _verification(status, spec),
        "strategy": _dump(status.strategy, "name", "stage", "step", "steps", "weight", "summary"),
        "history": [_dump(h) for h in status.history],
        "requests": [_dump(r) for r in status.requests],
        "pendingRequest": _pending_request(metadata, status),
        "trackingUri": tracking_uri,
        "links": _links(mlflow_url or tracking_uri, model, status),
        "problems": [p for p in (spec_error, status_error) if p],
    }


def _spec(raw: dict[str, Any]) -> tuple[ModelPromotionSpec | None, str | None]:
    try:
        return parse_spec(raw), None
    except InvalidSpec as exc:
        return None, f"invalid spec: {exc}"


def _status(obj: dict[str, Any]) -> tuple[PromotionStatus, str | None]:
    try:
        return read_status(obj), None
    except ValidationError as exc:  # an operator newer or older than this dashboard
        return PromotionStatus(), f"unreadable status ({exc.error_count()} problems): {exc}"


def _raw_tracking_uri(obj: dict[str, Any]) -> str | None:
    mlflow = (obj.get("spec") or {}).get("mlflow") or {}
    uri = mlflow.get("trackingUri") if isinstance(mlflow, dict) else None
    return uri if isinstance(uri, str) else None


def _dump(model: BaseModel | None, *fields: str) -> dict[str, Any] | None:
    """camelCase JSON of ``model`` (timestamps in RFC 3339), only ``fields`` if named."""
    if model is None:
        return None
    dumped: dict[str, Any] = model.model_dump(mode="json", by_alias=True)
    return {f: dumped.get(f) for f in fields} if fields else dumped


def _wanted(spec: ModelPromotionSpec | None) -> str | None:
    """What the spec asks for: a version, or `@alias`."""
    if spec is None:
        return None
    return spec.model.version or f"@{spec.model.alias}"


def _gates(status: PromotionStatus, spec: ModelPromotionSpec | None) -> list[dict[str, Any]]:
    """The gates as judged; before any is judged, the spec's offline gates, not yet measured."""
    fields = ("name", "metric", "op", "value", "threshold", "baselineValue", "phase", "message",
              "source")  # fmt: skip
    if status.gates or spec is None:
        return [_dump(g, *fields) or {} for g in status.gates]
    return [
        {"name": g.display_name, "metric": g.metric, "op": g.op.value, "value": None,
         "threshold": g.threshold, "baselineValue": None, "phase": None, "message": "",
         "source": f"baseline {g.baseline}" if g.baseline else ""}
        for g in spec.gates
    ]  # fmt: skip


def _verification(
    status: PromotionStatus, spec: ModelPromotionSpec | None
) -> dict[str, Any] | None:
    progress = status.verification
    if progress is None:
        return None
    dumped = _dump(progress) or {}
    return {
        "startedAt": dumped.get("startedAt"),
        "lastMeasuredAt": dumped.get("lastMeasuredAt"),
        "passed": progress.passed,
        "rounds": len(progress.samples),
        "expectedRounds": spec.rollout.verification.count if spec else None,
        "samples": dumped.get("samples", []),
        "thresholds": _live_thresholds(status, spec),
    }


def _live_thresholds(
    status: PromotionStatus, spec: ModelPromotionSpec | None
) -> dict[str, dict[str, Any]]:
    """metric → {op, threshold} of the live gates, for the chart's threshold line: the judged
    (effective) ones first, the spec's absolute ones for metrics not judged yet."""
    found: dict[str, dict[str, Any]] = {}
    for gate in status.gates:
        if gate.source == "live" and gate.threshold is not None:
            found.setdefault(gate.metric, {"op": gate.op, "threshold": gate.threshold})
    for declared in spec.rollout.verification.gates if spec else []:
        if declared.threshold is not None:
            found.setdefault(
                declared.metric, {"op": declared.op.value, "threshold": declared.threshold}
            )
    return found


def _pending_request(metadata: dict[str, Any], status: PromotionStatus) -> dict[str, Any] | None:
    """A control request the operator has not handled yet (approve, abort, retry, undo)."""
    try:
        found = read_request(metadata)
    except InvalidRequest as exc:
        return {"action": None, "requestedBy": None, "at": None, "problem": str(exc)}
    if found is None:
        return None
    request, user = found
    if status.answer(request.id) is not None:
        return None
    at = request.model_dump(mode="json").get("at")
    return {"action": request.action.value, "requestedBy": user, "at": at, "problem": None}


def _links(base: str | None, model: str | None, status: PromotionStatus) -> dict[str, str | None]:
    """Links into MLflow's UI. `#/runs/<id>` is its direct run route: it looks the run's
    experiment up and redirects to `#/experiments/<id>/runs/<id>` (checked in MLflow 3's UI)."""
    links: dict[str, str | None] = {"run": None, "candidate": None, "serving": None}
    if not base or not base.startswith(("http://", "https://")):
        return links
    root = base.rstrip("/")
    run_id = status.candidate.run_id if status.candidate else None
    if run_id:
        links["run"] = f"{root}/#/runs/{quote(run_id, safe='')}"
    if model:
        versions = {"candidate": status.candidate_version, "serving": status.serving_version}
        for role, version in versions.items():
            if version:
                links[role] = f"{root}/#/models/{quote(model, safe='')}/versions/" + quote(
                    version, safe=""
                )
    return links
