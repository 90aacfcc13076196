"""In-memory stand-ins for MLflow, the cluster and pod metrics, for the step-logic tests.

The real adapters are tested against a real MLflow server (test_registry.py) and a real
cluster (tests/e2e); these fakes only let the state machine be driven step by step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from promotion_operator.control import Action, new_request
from promotion_operator.events import Reason
from promotion_operator.manifests import ROLE_LABEL, VERSION_LABEL, Role, deployment_name
from promotion_operator.ports import LiveSample, MirrorCounters, PodCounters, RolloutState
from promotion_operator.promotion_pass import Asked, Deps, ModelPromotion, PassResult, Scratch
from promotion_operator.reconcile import reconcile
from promotion_operator.registry import ModelVersion, NotFound, RegistryUnavailable, Run
from promotion_operator.spec import parse_spec
from promotion_operator.status import PromotionPhase, PromotionStatus


@dataclass
class FakeRegistry:
    versions: dict[str, dict[str, float]] = field(default_factory=dict)  # version → metrics
    aliases: dict[str, str] = field(default_factory=dict)
    tags: dict[str, dict[str, str]] = field(default_factory=dict)  # version → its tags
    model_tags_: dict[str, str] = field(default_factory=dict)  # the registered model's tags
    down: bool = False

    def _check(self) -> None:
        if self.down:
            raise RegistryUnavailable("cannot reach MLflow at http://mlflow: ConnectError")

    async def model_version(self, name: str, version: str) -> ModelVersion:
        self._check()
        if version not in self.versions:
            raise NotFound(f"Model Version (name={name}, version={version}) not found")
        return ModelVersion(name, version, f"run-{version}", None, self.tags.get(version, {}))

    async def version_for_alias(self, name: str, alias: str) -> ModelVersion:
        self._check()
        if alias not in self.aliases:
            raise NotFound(f"alias {alias} not found")
        return await self.model_version(name, self.aliases[alias])

    async def run(self, run_id: str) -> Run:
        self._check()
        return Run(run_id, self.versions[run_id.removeprefix("run-")], {}, {})

    async def set_alias(self, name: str, alias: str, version: str) -> None:
        self._check()
        self.aliases[alias] = version

    async def set_version_tags(self, name: str, version: str, tags: dict[str, str]) -> None:
        self._check()
        self.tags.setdefault(version, {}).update(tags)

    async def model_tags(self, name: str) -> dict[str, str]:
        self._check()
        return dict(self.model_tags_)

    async def set_model_tag(self, name: str, key: str, value: str) -> None:
        self._check()
        self.model_tags_[key] = value


@dataclass
class FakeCluster:
    """Versions become ready when listed in `ready`; `failing` maps version → reason.

    `removed` lists the kinds removed from the main objects, and `kind/name` for a shadow's or
    canary's; `objects` holds what exists now, by (kind, name)."""

    ready: set[str] = field(default_factory=set)
    failing: dict[str, str] = field(default_factory=dict)
    applied: list[dict[str, Any]] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    objects: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    promotions: set[tuple[str, str]] = field(default_factory=set)  # (namespace, name) existing
    stable_replicas: int | None = None  # the HPA's choice, when the test sets one

    def version_of(self, deployment: str) -> str | None:
        found = self.objects.get(("Deployment", deployment))
        if found is None:
            return None
        return str(found["spec"]["template"]["metadata"]["labels"][VERSION_LABEL])

    @property
    def serving_version(self) -> str | None:
        """The version in the main Deployment (the one without a role)."""
        for (kind, _), obj in self.objects.items():
            if kind == "Deployment" and ROLE_LABEL not in obj["metadata"]["labels"]:
                return str(obj["spec"]["template"]["metadata"]["labels"][VERSION_LABEL])
        return None

    def side_replicas(self, deployment: str) -> int | None:
        found = self.objects.get(("Deployment", deployment))
        return int(found["spec"]["replicas"]) if found is not None else None

    async def apply(self, objects: list[dict[str, Any]]) -> None:
        self.applied.extend(objects)
        for obj in objects:
            self.objects[(obj["kind"], obj["metadata"]["name"])] = obj

    async def remove(self, kind: str, name: str, namespace: str) -> None:
        found = self.objects.pop((kind, name), None)
        is_side = any(name.endswith(suffix) for suffix in ("-shadow", "-canary"))
        if found is not None or not is_side:
            self.removed.append(f"{kind}/{name}" if is_side else kind)

    async def promotion_exists(self, namespace: str, name: str) -> bool:
        return (namespace, name) in self.promotions

    async def rollout_state(
        self, name: str, namespace: str, version: str, role: Role = "stable"
    ) -> RolloutState:
        if version in self.failing:
            return RolloutState(False, self.failing[version], "")
        ready = self.version_of(deployment_name(name, role)) == version and version in self.ready
        return RolloutState(ready, None, "1/1 ready" if ready else "0/1 ready")

    async def replicas(self, name: str, namespace: str) -> int | None:
        main = self.objects.get(("Deployment", name))
        if main is None:
            return None
        return self.stable_replicas or main["spec"].get("replicas")


@dataclass
class FakeLive:
    """Serving pods that see traffic only from the smoke load (or from users, `background`).

    Each sample adds 100 requests per pod under load; `pods` ready pods answer at `latency_s`.
    """

    latency_s: float = 0.002
    error_every: int = 0  # every n-th request fails; 0 = none
    pods: int = 1
    background: bool = False  # users' own traffic, whatever the operator does
    requests: float = 0  # per pod
    smoke: list[str] = field(default_factory=list)  # "start <version>" / "stop", in order
    smoking: str | None = None  # the version under smoke load now
    broken: bool = False
    # version → its agreement with the champion as a shadow: each sample of it adds 200
    # mirrored rows (and those requests), which the champion's pods count as sent
    agreement: dict[str, float] = field(default_factory=dict)
    mirrored: float = 0

    async def sample(
        self, name: str, namespace: str, version: str, *, profiles: bool = False
    ) -> LiveSample:
        if self.broken:
            raise RuntimeError("connection refused")
        if self.background or self.smoking == version or version in self.agreement:
            self.requests += 100
        errors = self.requests // self.error_every if self.error_every else 0
        buckets = {0.001: 0.0, self.latency_s: self.requests, 1.0: self.requests,
                   float("inf"): self.requests}  # fmt: skip
        counters = PodCounters(self.requests, errors, buckets, mirror=self._mirror(version))
        return LiveSample({f"{name}-{version}-{i}": counters for i in range(self.pods)})

    def _mirror(self, version: str) -> MirrorCounters:
        if version not in self.agreement:  # the champion's side: what it sent
            return MirrorCounters({"sent": self.mirrored, "dropped": 0.0, "failed": 0.0})
        self.mirrored += 200
        agreed = self.mirrored * self.agreement[version]
        half, rows = self.mirrored / 2, self.mirrored
        labels = {("champion", "0"): half, ("champion", "1"): half,
                  ("candidate", "0"): agreed, ("candidate", "1"): rows - agreed}  # fmt: skip
        return MirrorCounters({}, self.mirrored, agreed, labels)

    def ensure_smoke_load(
        self, name: str, namespace: str, version: str, model_name: str, rps: float
    ) -> None:
        if self.smoking != version:
            self.smoking = version
            self.smoke.append(f"start {version}")

    def stop_smoke_load(self, name: str, namespace: str) -> None:
        if self.smoking is not None:
            self.smoking = None
            self.smoke.append("stop")


@dataclass
class FakeEvents:
    """Events as (type, reason, message), the way `kubectl get events` lists them."""

    posted: list[tuple[str, str, str]] = field(default_factory=list)

    def info(self, reason: Reason, message: str) -> None:
        self.posted.append(("Normal", reason.value, message))

    def warn(self, reason: Reason, message: str) -> None:
        self.posted.append(("Warning", reason.value, message))


@dataclass
class World:
    """One ModelPromotion driven by repeated reconciles, with a clock the test moves."""

    spec: dict[str, Any]
    registry: FakeRegistry = field(default_factory=FakeRegistry)
    cluster: FakeCluster = field(default_factory=FakeCluster)
    live: FakeLive = field(default_factory=FakeLive)
    status: PromotionStatus = field(default_factory=PromotionStatus)
    events: FakeEvents = field(default_factory=FakeEvents)
    clock: datetime = field(default_factory=lambda: datetime(2026, 1, 1, tzinfo=UTC))
    generation: int = 1
    scratch: Scratch = field(default_factory=Scratch)
    passes: list[PassResult] = field(default_factory=list)
    name: str = "churn"
    namespace: str = "ml"
    asked: Asked | None = None  # the request annotation, as a user's plugin left it

    def __post_init__(self) -> None:
        self.cluster.promotions.add((self.namespace, self.name))

    def deps(self) -> Deps:
        return Deps(
            registry=self.registry, cluster=self.cluster, live=self.live, events=self.events,
            adopt=lambda objects: None, now=lambda: self.clock,
            alias_poll_seconds=30, scratch=self.scratch,
        )  # fmt: skip

    async def tick(self, seconds: float = 0) -> PromotionStatus:
        """One reconcile pass, ``seconds`` later; the status goes through its JSON form, as it
        does through the API server between two passes of the real operator."""
        self.clock += timedelta(seconds=seconds)
        spec = parse_spec(self.spec)
        promotion = ModelPromotion(
            self.name, self.namespace, self.generation, spec, self.status, self.asked
        )
        result = await reconcile(promotion, self.deps())
        self.passes.append(result)
        self.status = PromotionStatus.model_validate(result.status.to_json())
        return self.status

    def ask(self, action: Action, by: str = "alice", **fields: Any) -> str:
        """A user's request, as `kubectl mlrollout <action>` writes it; returns its id."""
        self.asked = Asked(new_request(action, **fields), by)
        return self.asked.request.id

    def answer(self, request_id: str) -> tuple[bool, str]:
        """What the operator recorded for the request: accepted, and its message."""
        record = next(r for r in self.status.requests if r.id == request_id)
        return record.accepted, record.message

    def restart_operator(self) -> None:
        """A new operator process: no memory of earlier passes, only the status; the smoke load
        it sent died with it."""
        self.scratch = Scratch()
        self.live.smoking = None

    def phase(self) -> PromotionPhase:
        """A method, not a property: type checkers would keep a narrowed property across ticks."""
        return self.status.current_phase

    @property
    def message(self) -> str:
        return self.status.message or ""

    def reasons(self) -> list[str]:
        return [reason for _, reason, _ in self.events.posted]


def base_spec(**overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "model": {"name": "churn-classifier", "version": "2"},
        "mlflow": {"trackingUri": "http://mlflow:5000"},
        "gates": [
            {"metric": "accuracy", "op": ">=", "threshold": 0.9},
            {"metric": "latency_p95_ms", "op": "<=", "threshold": 50},
        ],
        "serving": {"image": "localhost/mlrollout-model-server:test", "replicas": 1},
        "rollout": {
            "progressDeadlineSeconds": 60,
            "verification": {
                "durationSeconds": 30,
                "intervalSeconds": 10,
                "gates": [
                    {"metric": "latency_p95_ms", "op": "<=", "threshold": 50},
                    {"metric": "error_rate", "op": "<=", "threshold": 0.01},
                ],
            },
        },
        "promotion": {"alias": "production"},
    }
    spec.update(overrides)
    return spec
