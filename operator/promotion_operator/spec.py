"""The `ModelPromotion` spec as frozen pydantic models (camelCase in YAML, snake_case here).

The CRD's OpenAPI schema and CEL rules refuse invalid resources at `kubectl apply`; these models
parse what the API server admitted, and are the single typed view every other module uses.
"""

from __future__ import annotations

import enum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.alias_generators import to_camel

GROUP = "mlrollout.dev"
VERSION = "v1alpha1"
PLURAL = "modelpromotions"
KIND = "ModelPromotion"


class _Spec(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, frozen=True, extra="ignore"
    )


class Op(enum.StrEnum):
    GE = ">="
    GT = ">"
    LE = "<="
    LT = "<"
    EQ = "=="


class OnNoData(enum.StrEnum):
    """What a gate does when its metric has no value. It never passes silently."""

    FAIL = "Fail"  # a Failed measurement (the default)
    INCONCLUSIVE = "Inconclusive"  # an Inconclusive measurement, judged by inconclusiveLimit
    PASS = "Pass"  # noqa: S105 - an explicit, recorded pass ("no data; passed by onNoData=Pass")


class ModelRef(_Spec):
    name: str = Field(min_length=1)
    version: str | None = None
    alias: str | None = None

    @model_validator(mode="after")
    def _one_of(self) -> ModelRef:
        if (self.version is None) == (self.alias is None):
            raise ValueError("spec.model: set exactly one of version or alias")
        return self


class SecretRef(_Spec):
    name: str
    username_key: str = "username"
    password_key: str = "password"  # noqa: S105 - a key name in the Secret
    token_key: str = "token"  # noqa: S105


class MlflowRef(_Spec):
    tracking_uri: str
    credentials_secret_ref: SecretRef | None = None


class Gate(_Spec):
    """`metric op threshold`, or `metric op baseline-value + tolerance` for a relative gate."""

    metric: str = Field(min_length=1)
    op: Op
    threshold: float | None = None
    baseline: str | None = None  # an MLflow alias naming the baseline version, e.g. champion
    tolerance: float = 0.0
    source: Literal["metric", "tag"] = "metric"
    on_no_data: OnNoData = OnNoData.FAIL
    name: str | None = None

    @model_validator(mode="after")
    def _absolute_or_relative(self) -> Gate:
        if (self.threshold is None) == (self.baseline is None):
            raise ValueError(f"gate {self.metric}: set exactly one of threshold or baseline")
        return self

    @property
    def display_name(self) -> str:
        if self.name:
            return self.name
        target = f"{self.threshold:g}" if self.threshold is not None else f"{self.baseline}"
        if self.baseline is not None and self.tolerance:
            target += f"{self.tolerance:+g}"
        return f"{self.metric} {self.op.value} {target}"


class Autoscaling(_Spec):
    min_replicas: int = Field(default=1, ge=1)
    max_replicas: int = Field(default=3, ge=1)
    # Spelled as in autoscaling/v1 (`targetCPUUtilizationPercentage`), not as to_camel would.
    target_cpu_utilization_percentage: int = Field(
        default=70, ge=1, le=100, alias="targetCPUUtilizationPercentage"
    )
    # How long the HPA waits before removing replicas; unset, Kubernetes's own 300 s.
    scale_down_stabilization_seconds: int | None = Field(default=None, ge=0, le=3600)


class Toleration(_Spec):
    """A pod toleration, as Kubernetes spells it (e.g. for a dedicated GPU node pool)."""

    key: str | None = None
    operator: Literal["Exists", "Equal"] | None = None
    value: str | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None
    toleration_seconds: int | None = None


class Serving(_Spec):
    image: str
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] = "IfNotPresent"
    replicas: int = Field(default=1, ge=0)
    port: int = 8080
    resources: dict[str, Any] = Field(default_factory=dict)
    autoscaling: Autoscaling | None = None
    env: list[dict[str, Any]] = Field(default_factory=list)
    service_account_name: str | None = None
    node_selector: dict[str, str] = Field(default_factory=dict)
    tolerations: list[Toleration] = Field(default_factory=list)


class Verification(_Spec):
    duration_seconds: int = Field(default=60, ge=0)
    interval_seconds: int = Field(default=10, ge=1)
    gates: list[Gate] = Field(default_factory=list)
    failure_limit: int = Field(default=0, ge=0)
    inconclusive_limit: int = Field(default=0, ge=0)
    consecutive_error_limit: int = Field(default=4, ge=0)
    smoke_load_rps: float = Field(default=2.0, ge=0)

    @property
    def count(self) -> int:
        return max(1, self.duration_seconds // self.interval_seconds)


class Strategy(enum.StrEnum):
    """How the candidate meets live traffic (`spec.rollout.strategy`)."""

    REPLACE = "replace"  # its pods replace the champion's, then verification judges them
    SHADOW = "shadow"  # beside the champion, outside the Service, on mirrored requests
    CANARY = "canary"  # beside the champion, behind the Service, a share of pods per step


class Shadow(_Spec):
    # The share of the champion's requests mirrored to the candidate, in percent.
    mirror_percent: float = Field(default=100.0, gt=0, le=100)
    # Two regression predictions agree when they differ by at most this much (labels: equal).
    agreement_tolerance: float = Field(default=0.0, ge=0)


class Canary(_Spec):
    # The candidate's share of the serving pods at each step, in percent; the last is 100.
    steps: list[int] = Field(default_factory=lambda: [20, 50, 100], min_length=1)

    @model_validator(mode="after")
    def _increasing_to_100(self) -> Canary:
        pairs = zip(self.steps, self.steps[1:], strict=False)
        if self.steps[-1] != 100 or any(b <= a for a, b in pairs) or self.steps[0] <= 0:
            raise ValueError("spec.rollout.canary.steps must increase and end at 100")
        return self


class Approval(enum.StrEnum):
    """Where a promotion waits for a person (`spec.rollout.approval`)."""

    NONE = "none"
    BEFORE_ROLLOUT = "beforeRollout"  # offline gates passed, nothing rolled out yet
    BEFORE_PROMOTION = "beforePromotion"  # verified live, the alias not moved yet


class Rollout(_Spec):
    progress_deadline_seconds: int = Field(default=300, ge=10)
    approval: Approval = Approval.NONE
    approval_deadline_seconds: int | None = Field(default=None, ge=1)
    strategy: Strategy = Strategy.REPLACE
    shadow: Shadow = Field(default_factory=Shadow)
    canary: Canary = Field(default_factory=Canary)
    verification: Verification = Field(default_factory=Verification)


class PromotionAlias(_Spec):
    """`spec.promotion`: the MLflow alias moved to the version on success, back on rollback."""

    alias: str = "production"


class ModelPromotionSpec(_Spec):
    model: ModelRef
    mlflow: MlflowRef
    gates: list[Gate] = Field(default_factory=list)
    serving: Serving
    rollout: Rollout = Field(default_factory=Rollout)
    promotion: PromotionAlias = Field(default_factory=PromotionAlias)
    paused: bool = False


class InvalidSpec(ValueError):
    """The spec got past the API server's validation but still cannot be acted on."""


def parse_spec(raw: dict[str, Any]) -> ModelPromotionSpec:
    try:
        return ModelPromotionSpec.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"spec.{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise InvalidSpec(problems) from None
