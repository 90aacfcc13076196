"""The `ModelPromotion` status as pydantic models (camelCase in YAML, snake_case here).

One reconcile pass builds a whole new `PromotionStatus` and the driver writes it once; the CLI,
the demo and the e2e tests read a status through the same models. A test keeps these models and
the CRD's status schema equal field by field, as it does for the spec.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer
from pydantic.alias_generators import to_camel

HISTORY_LIMIT = 10
REQUESTS_LIMIT = 10  # control requests kept in status.requests
SAMPLES_LIMIT = 60  # verification samples kept for the dashboard's chart


def rfc3339(moment: datetime) -> str:
    """Kubernetes' timestamp format (metav1.Time): UTC, whole seconds."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


Timestamp = Annotated[datetime, PlainSerializer(rfc3339, return_type=str)]


class PromotionPhase(enum.StrEnum):
    """Where a promotion is (`status.phase`)."""

    PENDING = "Pending"
    EVALUATING = "Evaluating"
    REJECTED = "Rejected"
    ROLLING_OUT = "RollingOut"
    VERIFYING = "Verifying"
    AWAITING_APPROVAL = "AwaitingApproval"  # spec.rollout.approval: a person must approve
    PROMOTED = "Promoted"
    ROLLING_BACK = "RollingBack"
    ROLLED_BACK = "RolledBack"
    FAILED = "Failed"


# A verdict: the attempt is over, and only a new version (or a changed spec) starts another.
CONCLUDED = frozenset(
    {
        PromotionPhase.REJECTED,
        PromotionPhase.PROMOTED,
        PromotionPhase.ROLLED_BACK,
        PromotionPhase.FAILED,
    }
)


class MeasurementPhase(enum.StrEnum):
    """The verdict of one gate measurement, or of a series of them (Argo Rollouts' words)."""

    SUCCESSFUL = "Successful"
    FAILED = "Failed"
    INCONCLUSIVE = "Inconclusive"
    ERROR = "Error"


class ConditionType(enum.StrEnum):
    GATES_PASSED = "GatesPassed"
    PROGRESSING = "Progressing"
    AVAILABLE = "Available"
    VERIFIED = "Verified"
    ROLLED_BACK = "RolledBack"
    PAUSED = "Paused"


class _Status(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    def to_json(self) -> dict[str, Any]:
        """As the API stores it: camelCase, RFC 3339 timestamps, unset fields left out."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class VersionRef(_Status):
    version: str | None = None


class Candidate(_Status):
    """The version this attempt is about."""

    version: str
    model: str | None = None  # the registered model it belongs to (a new one starts an attempt)
    run_id: str | None = None
    started_at: Timestamp | None = None
    gates_digest: str | None = None  # of the offline gates it was judged by
    spec_digest: str | None = None  # of the spec it started with (spec.paused left out)


class Workload(_Status):
    """The Deployment, Service and HPA as last applied: for which version, from which manifests
    (a digest: a spec edit that changes them is applied again, whatever the phase)."""

    version: str
    digest: str


class GateStatus(_Status):
    """One gate judged once: an entry of `status.gates`."""

    model_config = ConfigDict(frozen=True)

    name: str
    metric: str
    op: str
    threshold: float | None = None  # effective: baseline value + tolerance for a relative gate
    value: float | None = None
    baseline_value: float | None = None
    phase: MeasurementPhase
    message: str = ""
    source: str = ""  # "run 3f2c… vs production=v7", "live", …


ConditionStatus = Literal["True", "False", "Unknown"]


class Condition(_Status):
    type: ConditionType
    status: ConditionStatus
    reason: str = ""
    message: str = ""
    last_transition_time: Timestamp
    observed_generation: int | None = None


class HistoryEntry(_Status):
    version: str | None = None
    outcome: PromotionPhase
    reason: str = ""
    started_at: Timestamp | None = None
    finished_at: Timestamp | None = None
    action: str | None = None  # a person's request that concluded it: abort | undo
    requested_by: str | None = None


class ControlRecord(_Status):
    """One control request (approve, abort, retry, undo) as the operator handled it."""

    id: str
    action: str
    requested_by: str
    requested_at: Timestamp | None = None
    handled_at: Timestamp
    accepted: bool
    message: str = ""


class ApprovalStatus(_Status):
    """A promotion waiting for a person (`spec.rollout.approval`)."""

    stage: str  # beforeRollout | beforePromotion
    requested_at: Timestamp
    deadline: Timestamp | None = None


class Retry(_Status):
    """A back-off in progress: nothing is tried before `nextAttemptAt`."""

    attempt: int
    next_attempt_at: Timestamp
    reason: str = ""


class RolloutProgress(_Status):
    started_at: Timestamp
    deadline: Timestamp


class MeasurementRecord(_Status):
    phase: MeasurementPhase


class VerificationSample(_Status):
    """The live values of one verification round (the dashboard draws them over time)."""

    at: Timestamp
    values: dict[str, float | None] = Field(default_factory=dict)  # metric → value


class VerificationProgress(_Status):
    started_at: Timestamp
    last_measured_at: Timestamp | None = None
    # gate display name → its measurements so far, oldest first
    measurements: dict[str, list[MeasurementRecord]] = Field(default_factory=dict)
    passed: bool | None = None  # verified; only the MLflow alias write is left
    samples: list[VerificationSample] = Field(default_factory=list)  # oldest first, SAMPLES_LIMIT


class StrategyStatus(_Status):
    """How this attempt meets live traffic, and how far it got (the printer columns read it).

    `stage` is where a shadow or canary attempt is: `candidate` (its own pods, beside the
    champion's) or `switch` (the candidate replaces the champion in the main Deployment)."""

    name: str  # replace | shadow | canary (the spec's, or replace when nothing serves yet)
    stage: str = "candidate"
    step: int | None = None  # canary: 1-based index into spec.rollout.canary.steps
    steps: int | None = None
    weight: int | None = None  # canary: the step's share asked for, in percent
    canary_replicas: int | None = None
    stable_replicas: int | None = None
    mirror_percent: float | None = None  # shadow
    mirrored: int | None = None  # requests the champion's pods sent to the shadow
    dropped: int | None = None  # requests not mirrored: the champion's queue was full
    mirror_failed: int | None = None  # mirrored, but the shadow did not answer 2xx in time
    # The champion's pods' mirror counters when the shadow started (theirs are cumulative).
    mirror_outcomes_at_start: dict[str, int] | None = None
    compared_rows: int | None = None
    agreement: float | None = None  # share of compared rows the two models agreed on
    summary: str = ""


class RollbackProgress(_Status):
    reason: str = ""
    started_at: Timestamp
    action: str | None = None  # a person's request that started it: abort | undo
    requested_by: str | None = None
    replaced: str | None = None  # undo: the serving version it replaces


class PromotionStatus(_Status):
    phase: PromotionPhase | None = None
    phase_since: Timestamp | None = None
    observed_generation: int | None = None
    message: str | None = None
    candidate: Candidate | None = None
    serving: VersionRef | None = None  # the last version that passed everything and serves
    workload: Workload | None = None
    last_known_good: VersionRef | None = None
    gates: list[GateStatus] = Field(default_factory=list)
    conditions: list[Condition] = Field(default_factory=list)
    history: list[HistoryEntry] = Field(default_factory=list)  # newest first, HISTORY_LIMIT
    retry: Retry | None = None
    rollout: RolloutProgress | None = None
    verification: VerificationProgress | None = None
    rollback: RollbackProgress | None = None
    strategy: StrategyStatus | None = None
    paused_at: Timestamp | None = None  # spec.paused: holding since then
    approval: ApprovalStatus | None = None
    requests: list[ControlRecord] = Field(default_factory=list)  # newest first, REQUESTS_LIMIT

    @property
    def current_phase(self) -> PromotionPhase:
        return self.phase or PromotionPhase.PENDING

    @property
    def concluded(self) -> bool:
        return self.current_phase in CONCLUDED

    @property
    def candidate_version(self) -> str | None:
        return self.candidate.version if self.candidate else None

    @property
    def serving_version(self) -> str | None:
        return self.serving.version if self.serving else None

    @property
    def last_known_good_version(self) -> str | None:
        return self.last_known_good.version if self.last_known_good else None

    def condition(self, type_: ConditionType) -> Condition | None:
        return next((c for c in self.conditions if c.type is type_), None)

    def answer(self, request_id: str) -> ControlRecord | None:
        """The operator's answer to a control request; None while it has not handled it."""
        return next((r for r in self.requests if r.id == request_id), None)


def read_status(obj: dict[str, Any]) -> PromotionStatus:
    """The status of a ModelPromotion object as the API returns it (an empty one if unset)."""
    return PromotionStatus.model_validate(obj.get("status") or {})
