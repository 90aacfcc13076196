"""The reasons of the Kubernetes Events the operator posts about a ModelPromotion.

Constants, so a test or a dashboard can match on them; whether an Event is informational or a
warning is chosen by the helper that posts it (`EventSink.info` / `EventSink.warn`).
"""

from __future__ import annotations

import enum


class Reason(enum.StrEnum):
    PROMOTION_STARTED = "PromotionStarted"
    SUPERSEDED = "Superseded"
    ROLLING_OUT = "RollingOut"
    SHADOWING = "Shadowing"
    CANARY_STEP = "CanaryStep"
    SWITCHING = "Switching"
    PROMOTED = "Promoted"
    REJECTED = "Rejected"
    MODEL_NOT_FOUND = "ModelNotFound"
    ALIAS_OWNED = "AliasOwnedElsewhere"
    ROLLING_BACK = "RollingBack"
    ROLLED_BACK = "RolledBack"
    ROLLBACK_FAILED = "RollbackFailed"
    TAG_WRITE_FAILED = "TagWriteFailed"
    PAUSED = "Paused"
    RESUMED = "Resumed"
    AWAITING_APPROVAL = "AwaitingApproval"
    APPROVED = "Approved"
    APPROVAL_EXPIRED = "ApprovalExpired"
    ABORTED = "Aborted"
    RETRIED = "Retried"
    UNDONE = "Undone"
    REQUEST_REFUSED = "RequestRefused"
