"""The JSON view of one promotion: what the page gets from a ModelPromotion object."""

from __future__ import annotations

import json

from mlrollout.dashboard.view import promotion_view
from promotion_operator.control import Action, new_request, request_patch
from promotion_operator.status import ControlRecord, PromotionStatus

from . import samples

MLFLOW = "http://localhost:5000/"


def test_a_promoted_promotion_has_versions_gates_verification_and_history() -> None:
    view = promotion_view(samples.promoted(), MLFLOW)

    assert (view["key"], view["phase"], view["model"]) == (
        "risk/fraud-scorer", "Promoted", "fraud-scorer"
    )  # fmt: skip
    assert view["candidate"]["version"] == "7"
    assert view["candidate"]["runId"] == "3f2c9a1be04d4b6f9e0c7d21a8b5e913"
    assert (view["serving"], view["lastKnownGood"], view["wanted"]) == ("7", "7", "7")
    assert [g["name"] for g in view["gates"]] == [
        "accuracy >= 0.9", "latency_p95_ms <= 100", "error_rate <= 0.05", "latency_p95_ms <= 250",
    ]  # fmt: skip
    accuracy = view["gates"][0]
    assert accuracy == {
        "name": "accuracy >= 0.9", "metric": "accuracy", "op": ">=", "value": 0.962,
        "threshold": 0.9, "baselineValue": None, "phase": "Successful", "message": "",
        "source": "run 3f2c9a1b",
    }  # fmt: skip
    verification = view["verification"]
    assert (verification["rounds"], verification["expectedRounds"]) == (12, 12)
    assert verification["passed"] is True
    assert verification["samples"][0]["values"]["latency_p95_ms"] == 23.0
    assert verification["samples"][0]["at"].endswith("Z")  # RFC 3339, as the API stores it
    assert verification["thresholds"] == {
        "error_rate": {"op": "<=", "threshold": 0.05},
        "latency_p95_ms": {"op": "<=", "threshold": 250.0},
    }
    assert view["strategy"]["summary"] == "canary 100%: 2 of 2 pods"
    assert [(h["version"], h["outcome"]) for h in view["history"]] == [
        ("7", "Promoted"), ("6", "RolledBack"), ("6", "Promoted"),
    ]  # fmt: skip
    assert view["history"][1]["action"] == "undo"
    assert view["history"][1]["requestedBy"] == "alice"
    assert view["requests"][0]["action"] == "undo"
    assert view["trackingUri"] == samples.TRACKING_URI
    assert view["problems"] == []
    json.dumps(view)  # the page gets it as JSON


def test_links_go_to_the_mlflow_url_given_else_to_the_spec_tracking_uri() -> None:
    promotion = samples.promoted()
    assert promotion_view(promotion, MLFLOW)["links"] == {
        "run": "http://localhost:5000/#/runs/3f2c9a1be04d4b6f9e0c7d21a8b5e913",
        "candidate": "http://localhost:5000/#/models/fraud-scorer/versions/7",
        "serving": "http://localhost:5000/#/models/fraud-scorer/versions/7",
    }
    own = promotion_view(promotion)["links"]
    assert own["run"] == f"{samples.TRACKING_URI}/#/runs/3f2c9a1be04d4b6f9e0c7d21a8b5e913"

    promotion["spec"]["mlflow"]["trackingUri"] = "databricks"  # no page a browser can open
    assert promotion_view(promotion)["links"] == {"run": None, "candidate": None, "serving": None}


def test_names_in_links_are_quoted() -> None:
    promotion = samples.promoted()
    promotion["spec"]["model"]["name"] = "team a/scorer?x"
    links = promotion_view(promotion, MLFLOW)["links"]
    assert links["candidate"] == "http://localhost:5000/#/models/team%20a%2Fscorer%3Fx/versions/7"


def test_a_rejected_promotion_shows_its_failed_gate_and_what_still_serves() -> None:
    view = promotion_view(samples.rejected(), MLFLOW)
    assert view["phase"] == "Rejected"
    failed = [g for g in view["gates"] if g["phase"] == "Failed"]
    assert [(g["name"], g["value"]) for g in failed] == [("accuracy >= 0.9", 0.871)]
    assert (view["candidate"]["version"], view["serving"]) == ("4", "3")
    assert view["verification"] is None


def test_before_any_status_the_spec_gates_show_unmeasured() -> None:
    promotion = samples.obj("ns", "fresh", samples.spec("m", "1"), None)
    view = promotion_view(promotion)
    assert (view["phase"], view["candidate"], view["serving"]) == ("Pending", None, None)
    assert [(g["name"], g["phase"], g["value"]) for g in view["gates"]] == [
        ("accuracy >= 0.9", None, None), ("latency_p95_ms <= 100", None, None),
    ]  # fmt: skip


def test_an_invalid_spec_still_gives_a_card_that_says_so() -> None:
    promotion = samples.rejected()
    promotion["spec"]["model"] = {"name": "churn-model"}  # neither version nor alias
    view = promotion_view(promotion, MLFLOW)
    assert view["phase"] == "Rejected"
    assert view["model"] == "churn-model"  # from the status' candidate
    assert view["trackingUri"] == samples.TRACKING_URI
    assert len(view["problems"]) == 1
    assert "invalid spec" in view["problems"][0]
    assert "spec.model" in view["problems"][0]
    assert view["links"]["candidate"] == "http://localhost:5000/#/models/churn-model/versions/4"


def test_an_unreadable_status_still_gives_a_card_that_says_so() -> None:
    promotion = samples.rejected()
    promotion["status"]["phase"] = "Sleeping"  # an operator from another release
    view = promotion_view(promotion)
    assert view["phase"] == "Pending"
    assert ["unreadable status" in p for p in view["problems"]] == [True]


def test_paused_comes_from_the_spec_or_the_status() -> None:
    promotion = samples.verifying()
    assert promotion_view(promotion)["paused"] is False
    promotion["spec"]["paused"] = True
    assert promotion_view(promotion)["paused"] is True
    promotion["spec"]["paused"] = False
    promotion["status"]["pausedAt"] = "2026-01-01T00:00:00Z"
    view = promotion_view(promotion)
    assert (view["paused"], view["pausedAt"]) == (True, "2026-01-01T00:00:00Z")


def test_an_approval_wait_is_shown_with_its_deadline() -> None:
    view = promotion_view(samples.awaiting_approval())
    assert view["phase"] == "AwaitingApproval"
    assert view["approval"]["stage"] == "beforePromotion"
    assert view["approval"]["deadline"].endswith("Z")


def test_a_request_is_pending_until_the_status_records_its_id() -> None:
    promotion = samples.verifying()
    request = new_request(Action.ABORT, version="7", reason="latency looks off")
    metadata = request_patch(request, "bob", "1")["metadata"]
    promotion["metadata"]["annotations"] = metadata["annotations"]

    pending = promotion_view(promotion)["pendingRequest"]
    assert pending is not None
    assert (pending["action"], pending["requestedBy"], pending["problem"]) == ("abort", "bob", None)

    status = PromotionStatus.model_validate(promotion["status"])
    status.requests = [ControlRecord(id=request.id, action="abort", requested_by="bob",
                                     handled_at=samples.NOW, accepted=True)]  # fmt: skip
    promotion["status"] = status.to_json()
    assert promotion_view(promotion)["pendingRequest"] is None


def test_an_unreadable_request_is_shown_as_a_problem_not_an_error() -> None:
    promotion = samples.verifying()
    promotion["metadata"]["annotations"] = {"mlrollout.dev/request": "{not json"}
    pending = promotion_view(promotion)["pendingRequest"]
    assert pending is not None
    assert "mlrollout.dev/request" in pending["problem"]


def test_an_object_it_cannot_read_at_all_still_gives_a_card() -> None:
    promotion = samples.verifying()
    promotion["metadata"]["annotations"] = ["not", "a", "map"]  # no API server would send it
    view = promotion_view(promotion)
    assert (view["key"], view["phase"]) == ("risk/fraud-scorer", "Pending")
    assert view["problems"][0].startswith("cannot show this ModelPromotion: AttributeError")
