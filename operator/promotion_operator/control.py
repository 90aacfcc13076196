"""Manual control requests: approve, abort, retry and undo, asked through annotations.

A request is one JSON document in the annotation `mlrollout.dev/request` and the user who
asked in `mlrollout.dev/requested-by` (the chart's ValidatingAdmissionPolicy refuses a new
request whose `requested-by` is not the user the API server authenticated, so the name the
status records is the API's, not the client's say-so). Annotations, not spec fields: a request
is an imperative act, not desired state — it must not bump `metadata.generation` (which starts
attempts and retries) nor be re-applied by a GitOps sync.

Safe against replays and races: every request carries a fresh `id` and the operator handles
an id once (the handled ids are in `status.requests`); a request names the candidate `version`
its user saw, and is refused when the operator has moved on to another one; the plugin writes
the annotation with the object's resourceVersion, so two users asking at once get a conflict,
not a lost request.
"""

from __future__ import annotations

import enum
import json
import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from .status import PromotionPhase, PromotionStatus, Timestamp

REQUEST_ANNOTATION = "mlrollout.dev/request"
REQUESTED_BY_ANNOTATION = "mlrollout.dev/requested-by"

# Where abort and retry apply (undo: any concluded phase; approve: AwaitingApproval).
RUNNING = frozenset(
    {
        PromotionPhase.EVALUATING,
        PromotionPhase.ROLLING_OUT,
        PromotionPhase.VERIFYING,
        PromotionPhase.AWAITING_APPROVAL,
    }
)
RETRYABLE = frozenset({PromotionPhase.REJECTED, PromotionPhase.ROLLED_BACK, PromotionPhase.FAILED})


class Action(enum.StrEnum):
    APPROVE = "approve"  # let a promotion waiting in AwaitingApproval go on
    ABORT = "abort"  # roll a running promotion back now
    RETRY = "retry"  # evaluate a concluded (rejected, rolled back, failed) version again
    UNDO = "undo"  # serve the last known-good version (or `toVersion`) again, without gates


class ControlRequest(BaseModel):
    """What `mlrollout.dev/request` holds (camelCase JSON)."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, frozen=True, extra="ignore"
    )

    id: str = Field(min_length=1, max_length=64)
    action: Action
    version: str | None = None  # the candidate version the user saw; None: whatever it is
    to_version: str | None = None  # undo: the version to serve again
    reason: str = Field(default="", max_length=500)
    at: Timestamp | None = None  # when the user asked

    def to_annotation(self) -> str:
        return json.dumps(self.model_dump(mode="json", by_alias=True, exclude_none=True))


class InvalidRequest(ValueError):
    """The annotation is there but is not a request the operator understands."""


def new_request(
    action: Action,
    *,
    version: str | None = None,
    to_version: str | None = None,
    reason: str = "",
) -> ControlRequest:
    return ControlRequest(
        id=uuid.uuid4().hex,
        action=action,
        version=version,
        to_version=to_version,
        reason=reason,
        at=datetime.now(UTC),
    )


def read_request(metadata: dict[str, Any]) -> tuple[ControlRequest, str] | None:
    """The request on an object's metadata and who asked; None when there is none."""
    annotations = metadata.get("annotations") or {}
    raw = annotations.get(REQUEST_ANNOTATION)
    if not raw:
        return None
    try:
        request = ControlRequest.model_validate_json(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'request'}: {e['msg']}"
                             for e in exc.errors())  # fmt: skip
        raise InvalidRequest(f"annotation {REQUEST_ANNOTATION}: {problems}") from None
    return request, str(annotations.get(REQUESTED_BY_ANNOTATION) or "unknown")


def request_patch(request: ControlRequest, user: str, resource_version: str) -> dict[str, Any]:
    """A merge patch that asks ``request`` as ``user``; the resourceVersion makes the API server
    refuse it (409) when the object changed since the caller read it."""
    return {
        "metadata": {
            "resourceVersion": resource_version,
            "annotations": {
                REQUEST_ANNOTATION: request.to_annotation(),
                REQUESTED_BY_ANNOTATION: user,
            },
        }
    }


# -- undo's rule, shared by the operator and the plugin --------------------------------------
def known_good(status: PromotionStatus) -> list[str]:
    """Versions that passed everything here, newest first (history, then lastKnownGood)."""
    versions = [
        entry.version
        for entry in status.history
        if entry.outcome is PromotionPhase.PROMOTED and entry.version is not None
    ]
    if status.last_known_good_version is not None:
        versions.append(status.last_known_good_version)
    return list(dict.fromkeys(versions))


def undo_target(status: PromotionStatus, to_version: str | None) -> str | None:
    """The version an undo serves again: ``to_version`` if it passed here, else the newest
    known-good version that is not the serving one; None when there is none."""
    others = [v for v in known_good(status) if v != status.serving_version]
    if to_version is None:
        return others[0] if others else None
    return to_version if to_version in others else None


def no_undo_target(status: PromotionStatus, to_version: str | None) -> str:
    """Why there is nothing (or not ``to_version``) to undo to."""
    serving = status.serving_version
    if to_version is not None and to_version == serving:
        return f"version {to_version} already serves"
    others = ", ".join(v for v in known_good(status) if v != serving) or "none"
    named = f"version {to_version} never passed here" if to_version else "nothing to undo to"
    return f"{named}; known-good versions other than the serving one ({serving}): {others}"
