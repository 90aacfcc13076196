"""argocd/health.lua, run by a real Lua 5.1 as Argo CD runs it, against ModelPromotions in every
state (argocd/testdata, expected health in argocd/health_test.yaml as argo-cd lays it out)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from promotion_operator.spec import parse_spec
from promotion_operator.status import PromotionPhase, read_status

from .health import (
    ARGOCD,
    INVALID_STATUS_MESSAGE,
    HealthScriptError,
    argocd_health,
    expectations,
    load_yaml,
    lua_eval,
    run_health_script,
)

# The contract, phase by phase, for a status the operator has observed and nothing paused.
HEALTH_OF_PHASE = {
    PromotionPhase.PENDING: "Progressing",
    PromotionPhase.EVALUATING: "Progressing",
    PromotionPhase.ROLLING_OUT: "Progressing",
    PromotionPhase.VERIFYING: "Progressing",
    PromotionPhase.ROLLING_BACK: "Progressing",
    PromotionPhase.AWAITING_APPROVAL: "Suspended",
    PromotionPhase.PROMOTED: "Healthy",
    PromotionPhase.REJECTED: "Degraded",
    PromotionPhase.ROLLED_BACK: "Degraded",
    PromotionPhase.FAILED: "Degraded",
}


def _fixture(input_path: str) -> dict[str, Any]:
    obj = load_yaml(ARGOCD / input_path)
    assert isinstance(obj, dict)
    return obj


def _observed(phase: str, message: str = "", **status: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "churn", "namespace": "ml", "generation": 4},
        "spec": {"model": {"name": "m", "version": "2"}},
        "status": {"observedGeneration": 4, "phase": phase, "message": message, **status},
    }


@pytest.mark.parametrize(
    ("input_path", "status", "message"), expectations(), ids=[p for p, _, _ in expectations()]
)
def test_each_fixture_has_its_expected_health(input_path: str, status: str, message: str) -> None:
    assert argocd_health(_fixture(input_path)) == (status, message)


def test_every_fixture_is_listed_and_every_phase_has_one() -> None:
    listed = {path for path, _, _ in expectations()}
    on_disk = {f"testdata/{p.name}" for p in (ARGOCD / "testdata").glob("*.yaml")}
    assert listed == on_disk
    phases = {_fixture(path).get("status", {}).get("phase") for path in listed}
    assert {p.value for p in PromotionPhase} <= phases


@pytest.mark.parametrize("input_path", sorted({p for p, _, _ in expectations()}))
def test_the_fixtures_are_what_the_operator_reads_and_writes(input_path: str) -> None:
    """Specs the operator accepts; statuses whose every field its model knows (no typo)."""
    obj = _fixture(input_path)
    parse_spec(obj["spec"])
    written = read_status(obj).to_json()
    assert set(obj.get("status", {})) <= set(written)


@pytest.mark.parametrize("phase", list(PromotionPhase))
def test_every_phase_has_the_health_the_contract_gives_it(phase: PromotionPhase) -> None:
    assert argocd_health(_observed(phase, "what the operator says")) == (
        HEALTH_OF_PHASE[phase],
        "what the operator says",
    )


def test_a_pause_suspends_a_running_or_promoted_promotion_but_never_hides_a_failure() -> None:
    for phase in (PromotionPhase.VERIFYING, PromotionPhase.PROMOTED):
        by_spec = _observed(phase, "holding")
        by_spec["spec"]["paused"] = True
        assert argocd_health(by_spec) == ("Suspended", "holding")
        by_status = _observed(phase, "holding", pausedAt="2025-03-02T10:00:00Z")
        assert argocd_health(by_status) == ("Suspended", "holding")
    failed = _observed(PromotionPhase.FAILED, "restore failed", pausedAt="2025-03-02T10:00:00Z")
    failed["spec"]["paused"] = True
    assert argocd_health(failed) == ("Degraded", "restore failed")
    not_paused = _observed(PromotionPhase.VERIFYING, "verifying")
    not_paused["spec"]["paused"] = False
    assert argocd_health(not_paused) == ("Progressing", "verifying")


def test_a_status_of_an_older_generation_is_progressing_whatever_its_phase() -> None:
    stale = _observed(PromotionPhase.PROMOTED, "version 2 promoted")
    stale["metadata"]["generation"] = 5
    assert argocd_health(stale)[0] == "Progressing"
    unobserved = copy.deepcopy(stale)
    del unobserved["status"]["observedGeneration"]
    assert argocd_health(unobserved)[0] == "Progressing"
    stale["status"]["observedGeneration"] = 5
    assert argocd_health(stale)[0] == "Healthy"


def test_without_a_message_the_phase_says_what_is_going_on() -> None:
    assert argocd_health(_observed(PromotionPhase.EVALUATING)) == ("Progressing", "Evaluating")
    no_phase = _observed(PromotionPhase.PENDING)
    del no_phase["status"]["phase"], no_phase["status"]["message"]
    assert argocd_health(no_phase) == ("Progressing", "Pending")


def test_a_phase_newer_than_the_script_is_unknown_and_says_so() -> None:
    status, message = argocd_health(_observed("Hibernating", "zzz"))
    assert status == "Unknown"
    assert "Hibernating" in message


def test_the_bridge_hands_lua_the_object_as_argo_cd_does() -> None:
    obj = _fixture("testdata/progressing_verifying.yaml")
    obj["spec"]["paused"] = False
    assert lua_eval(obj, "obj.spec.paused == false") is True
    assert lua_eval(obj, "obj.status.pausedAt == nil") is True  # missing
    assert lua_eval(obj, "obj.status.verification.samples[2].values.error_rate == nil") is True
    assert lua_eval(obj, "obj.status.verification.samples[1].values.requests + 1") == 42
    assert lua_eval(obj, "obj.status.gates[1].value") == pytest.approx(0.934)
    assert lua_eval(obj, "#obj.status.gates") == 2
    assert lua_eval(obj, "type(obj.metadata.generation)") == "number"
    assert lua_eval(obj, "type(obj.status.phaseSince)") == "string"  # not a YAML timestamp
    assert lua_eval(obj, "obj.spec.model.version") == "2"  # a quoted number stays a string
    typed = {"status": {"phaseSince": datetime(2025, 3, 2, 9, 58, tzinfo=UTC)}}
    assert lua_eval(typed, "obj.status.phaseSince") == "2025-03-02T09:58:00Z"


def test_the_script_sees_no_more_than_argo_cd_opens() -> None:
    assert lua_eval({}, "string == nil and io == nil and debug == nil") is True
    assert lua_eval({}, "table.insert ~= nil and os.time ~= nil and os.exit == nil") is True
    with pytest.raises(HealthScriptError, match="string"):
        run_health_script('return {status = string.format("%s", "Healthy")}', {})
    with pytest.raises(HealthScriptError, match="string value"):
        run_health_script('return {status = ("healthy"):upper()}', {})


def test_a_status_argo_cd_does_not_know_is_unknown() -> None:
    assert run_health_script('return {status = "Great"}', {}) == (
        "Unknown",
        INVALID_STATUS_MESSAGE,
    )
    with pytest.raises(HealthScriptError, match="table"):
        run_health_script('return "Healthy"', {})
