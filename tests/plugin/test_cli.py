"""`kubectl mlrollout` end to end on this machine: the installed command, and each command
through the real client against the fake API server (a fake operator answers requests)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from mlrollout.plugin import kube
from mlrollout.plugin.main import app
from promotion_operator.control import read_request
from promotion_operator.status import PromotionPhase

from .conftest import Cluster
from .objects import answered, awaiting_approval, concluded, promotion, verifying

PLUGIN = Path(sys.executable).parent / "kubectl-mlrollout"


def run(cluster: Cluster, *args: str) -> Result:
    return CliRunner().invoke(
        app, [*args, "--kubeconfig", str(cluster.kubeconfig)], env={"COLUMNS": "200"}
    )


def operator(cluster: Cluster, *, accept: bool = True, message: str = "done") -> None:
    """Answer every new request at the next read, as the operator records it."""

    def answer(obj: dict[str, Any]) -> None:
        asked = read_request(obj["metadata"])
        requests = obj["status"].setdefault("requests", [])
        if asked and all(r["id"] != asked[0].id for r in requests):
            record = answered(asked[0].id, asked[0].action.value, accepted=accept, message=message)
            requests.insert(0, record.to_json())

    cluster.api.on_get = answer


def test_the_installed_command_runs() -> None:
    shown = subprocess.run([PLUGIN, "--help"], capture_output=True, text=True, check=True)
    assert "Usage: kubectl mlrollout" in shown.stdout
    for command in ("get", "approve", "abort", "retry", "undo", "pause", "resume", "gates"):
        assert command in shown.stdout


def test_an_expected_failure_is_one_line_and_no_traceback(tmp_path: Path) -> None:
    missing = tmp_path / "none"
    failed = subprocess.run(
        [PLUGIN, "get", "--kubeconfig", str(missing)], capture_output=True, text=True, check=False
    )
    assert failed.returncode == 1
    assert failed.stderr == (
        f"error: no kubeconfig at {missing}: pass --kubeconfig or set KUBECONFIG to the file "
        "your cluster's tools wrote\n"
    )


def test_get_lists_then_shows_one(cluster: Cluster) -> None:
    cluster.api.objects["churn"] = promotion(verifying())
    listed = run(cluster, "get")
    assert listed.exit_code == 0
    assert listed.stdout.split("\n")[1].split()[:3] == ["churn", "Verifying", "churn-model"]
    shown = run(cluster, "get", "churn", "-n", "ml")
    assert shown.exit_code == 0
    assert "candidate 8 (run 3f2c9a)   serving 7   last known good 7" in shown.stdout


def test_get_of_a_missing_promotion_says_how_to_list(cluster: Cluster) -> None:
    result = run(cluster, "get", "nope")
    assert result.exit_code == 1
    assert result.stderr == (
        "error: modelpromotion 'nope' not found in namespace 'ml'; "
        "kubectl mlrollout get -n ml lists them\n"
    )
    assert "Traceback" not in result.output


def test_get_with_nothing_there_says_so(cluster: Cluster) -> None:
    result = run(cluster, "get", "-n", "empty")
    assert (result.exit_code, result.stderr) == (0, "no modelpromotions in namespace 'empty'\n")


def test_get_watch_prints_each_change_and_ctrl_c_exits_cleanly(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    def changes(self: kube.Promotions, name: str | None) -> Iterator[list[dict[str, Any]]]:
        yield [promotion(verifying())]
        yield [promotion(concluded(PromotionPhase.PROMOTED))]
        raise KeyboardInterrupt

    monkeypatch.setattr(kube.Promotions, "watch", changes)
    result = run(cluster, "get", "churn", "--watch")
    assert result.exit_code == 0
    assert result.stdout.index("Verifying") < result.stdout.index("Promoted")


def test_abort_asks_and_prints_the_operators_answer(cluster: Cluster) -> None:
    cluster.api.objects["churn"] = promotion(verifying())
    operator(cluster, message="version 8 aborted by alice: slow")
    result = run(cluster, "abort", "churn", "--reason", "slow")
    assert result.exit_code == 0, result.output
    assert result.stdout == "accepted: version 8 aborted by alice: slow\n"
    assert "asked: abort churn (namespace ml, version 8)" in result.stderr
    [patch] = cluster.state.calls("PATCH")
    assert patch.content_type == "application/merge-patch+json"
    assert patch.body["metadata"]["resourceVersion"] == "100"
    asked = read_request(patch.body["metadata"])
    assert asked is not None
    assert (asked[0].reason, asked[1]) == ("slow", "alice")


def test_a_refusal_by_the_operator_exits_1(cluster: Cluster) -> None:
    cluster.api.objects["churn"] = promotion(concluded(PromotionPhase.PROMOTED))
    operator(cluster, accept=False, message="version 7 never passed here")
    result = run(cluster, "undo", "churn")
    assert result.exit_code == 1
    assert result.stdout == "refused (undo by alice): version 7 never passed here\n"
    assert "asked: undo churn back to version 7" in result.stderr


def test_a_command_in_the_wrong_phase_writes_nothing(cluster: Cluster) -> None:
    cluster.api.objects["churn"] = promotion(verifying())
    result = run(cluster, "approve", "churn")
    assert result.exit_code == 1
    assert result.stderr == (
        "error: nothing awaits approval: the phase is Verifying; approve needs AwaitingApproval\n"
    )
    assert cluster.state.calls("PATCH") == []


def test_without_an_operator_the_wait_ends_with_a_hint(cluster: Cluster) -> None:
    cluster.api.objects["churn"] = promotion(awaiting_approval())
    result = run(cluster, "approve", "churn", "--timeout", "0.5")
    assert result.exit_code == 1
    assert "error: no answer from the operator in 0.5s: is the mlrollout operator running?" in (
        result.stderr
    )


def test_no_wait_prints_the_request_and_returns(cluster: Cluster) -> None:
    cluster.api.objects["churn"] = promotion(concluded(PromotionPhase.REJECTED, "9", "7"))
    result = run(cluster, "retry", "churn", "--no-wait")
    assert result.exit_code == 0
    asked = read_request(cluster.api.objects["churn"]["metadata"])
    assert asked is not None
    assert f"asked: retry churn (namespace ml, version 9); request {asked[0].id}" in result.stdout


def test_no_permission_to_ask_suggests_the_check(cluster: Cluster) -> None:
    cluster.api.objects["churn"] = promotion(verifying())
    cluster.state.forbidden.add("patch")
    result = run(cluster, "abort", "churn")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: you may not patch modelpromotions.mlrollout.dev")
    assert result.stderr.endswith(
        "check with: kubectl auth can-i patch modelpromotions.mlrollout.dev -n ml\n"
    )


def test_pause_sets_spec_paused_and_reports_the_hold(cluster: Cluster) -> None:
    cluster.api.objects["churn"] = promotion(verifying())

    def hold(obj: dict[str, Any]) -> None:
        if obj["spec"].get("paused"):
            obj["status"]["pausedAt"] = "2026-11-27T10:10:01Z"

    cluster.api.on_get = hold
    result = run(cluster, "pause", "churn")
    assert result.exit_code == 0
    assert result.stdout == (
        "churn: spec.paused is true\nchurn paused by the operator in phase Verifying\n"
    )
    [patch] = cluster.state.calls("PATCH")
    assert (patch.body, patch.content_type) == (
        {"spec": {"paused": True}}, "application/merge-patch+json",
    )  # fmt: skip
    again = run(cluster, "pause", "churn")
    assert (again.exit_code, again.stdout) == (0, "churn is already paused\n")
    assert len(cluster.state.calls("PATCH")) == 1


def test_resume_without_an_operator_says_it_did_not_confirm(cluster: Cluster) -> None:
    held = verifying()
    held.paused_at = held.phase_since
    cluster.api.objects["churn"] = promotion(held, paused=True)
    result = run(cluster, "resume", "churn", "--timeout", "0.2")
    assert result.exit_code == 0
    assert cluster.api.objects["churn"]["spec"]["paused"] is False
    assert "the operator has not resumed churn within 0.2s: is it running?" in result.stderr


def test_dashboard_serves_through_the_kubeconfig(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlrollout.dashboard import command

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(command, "run_dashboard", lambda api, **kw: calls.append(kw))
    assert run(cluster, "dashboard", "--no-open", "--port", "3200").exit_code == 0
    assert run(cluster, "dashboard", "-A", "--mlflow-url", "http://mlflow").exit_code == 0
    assert calls == [
        {"namespace": "ml", "address": "127.0.0.1", "port": 3200, "mlflow_url": None,
         "open_browser": False},
        {"namespace": None, "address": "127.0.0.1", "port": 3100,
         "mlflow_url": "http://mlflow", "open_browser": True},
    ]  # fmt: skip


def test_gates_check_is_mlrollouts(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["gates", "check", "-f", str(tmp_path / "none.yaml")])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: cannot read {tmp_path / 'none.yaml'}")
