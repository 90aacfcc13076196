"""What `kubectl mlrollout get` prints, fed statuses the operator's own models build."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from rich.console import Console, RenderableType

from mlrollout.plugin import render
from promotion_operator.status import HistoryEntry, PromotionPhase

from .objects import NOW, answered, awaiting_approval, concluded, promotion, verifying


def text(renderable: RenderableType) -> str:
    console = Console(file=io.StringIO(), width=220, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def lines_with(output: str, word: str) -> list[str]:
    return [line for line in output.splitlines() if word in line]


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(0, "0s"), (59, "59s"), (60, "1m"), (3599, "59m"), (7200, "2h"), (3 * 86400 + 5, "3d")],
)
def test_ages_read_as_kubectl_prints_them(seconds: int, shown: str) -> None:
    assert render.age(NOW - timedelta(seconds=seconds), NOW) == shown


def test_the_table_has_a_row_per_promotion_with_versions_and_progress() -> None:
    rejected = promotion(concluded(PromotionPhase.REJECTED, "9", "7"), name="fraud")
    output = text(render.table([promotion(verifying()), rejected], NOW, all_namespaces=False))
    header = output.splitlines()[0].split()
    assert header[:5] == ["NAME", "PHASE", "MODEL", "CANDIDATE", "SERVING"]
    assert "NAMESPACE" not in header
    assert "AGE" in header
    churn = lines_with(output, "churn ")[0].split()
    assert churn[:6] == ["churn", "Verifying", "churn-model", "8", "7", "7"]
    assert "canary · step 2/3 (50%) · round 2/6" in lines_with(output, "churn ")[0]
    assert lines_with(output, "churn ")[0].rstrip().endswith("2d")
    assert lines_with(output, "fraud")[0].split()[:5] == [
        "fraud",
        "Rejected",
        "churn-model",
        "9",
        "7",
    ]


def test_all_namespaces_adds_the_namespace_column_and_a_pause_shows() -> None:
    paused = promotion(verifying(), namespace="team-b", paused=True)
    output = text(render.table([paused], NOW, all_namespaces=True))
    assert output.splitlines()[0].split()[:2] == ["NAMESPACE", "NAME"]
    assert lines_with(output, "churn")[0].split()[:4] == [
        "team-b",
        "churn",
        "Verifying",
        "(paused)",
    ]


def test_one_promotion_shows_phase_versions_gates_and_verification() -> None:
    output = text(render.detail(promotion(verifying()), NOW))
    assert "churn (namespace ml), model churn-model" in output
    assert "Verifying  since 1m ago" in output
    assert "verifying version 8: 2/6" in output
    assert "candidate 8 (run 3f2c9a)   serving 7   last known good 7" in output
    assert "canary · step 2/3 (50%) · round 2/6: step 2/3: 1 of 2 pods serve version 8" in output
    assert "2 rounds of 6 (every 10s), started 40s ago, last measured 5s ago" in output
    accuracy = lines_with(output, "accuracy >= 0.9")[0].split()
    assert accuracy[3:] == ["offline", "0.97", ">=", "0.9", "-", "Successful"]
    error_rate = lines_with(output, "error_rate <= 0.01 ")[0].split()
    assert error_rate[3:] == ["live", "0.002", "<=", "0.01", "-", "Successful"]
    # the second live gate has no measurement in status.gates yet
    assert lines_with(output, "latency_p95_ms <= 50")[0].split()[-3:] == ["not", "measured", "yet"]


def test_the_latest_samples_come_newest_first_with_missing_values_as_dashes() -> None:
    output = text(render.detail(promotion(verifying()), NOW))
    header = lines_with(output, "WHEN")[0].split()
    assert header == ["WHEN", "error_rate", "latency_p95_ms"]
    rows = output.splitlines()[output.splitlines().index(lines_with(output, "WHEN")[0]) + 1 :][:2]
    assert rows[0].split() == ["5s", "ago", "0.002", "-"]
    assert rows[1].split() == ["15s", "ago", "0.004", "31.5"]


def test_an_approval_shows_its_stage_deadline_and_the_command_that_approves() -> None:
    output = text(render.detail(promotion(awaiting_approval()), NOW))
    line = lines_with(output, "Awaiting approval")[0]
    assert "beforePromotion, asked 2m ago, deadline in 8m" in line
    assert "kubectl mlrollout approve churn -n ml" in line


def test_a_pause_shows_since_when_or_that_the_operator_has_not_held_it_yet() -> None:
    held = verifying()
    held.paused_at = NOW - timedelta(minutes=3)
    output = text(render.detail(promotion(held, paused=True), NOW))
    assert "Verifying (paused)" in output
    assert "since 3m ago; kubectl mlrollout resume churn -n ml" in lines_with(output, "Paused")[0]
    asked = text(render.detail(promotion(verifying(), paused=True), NOW))
    assert "the operator has not held it yet" in lines_with(asked, "Paused")[0]


def test_a_rejection_shows_the_failing_gate_and_its_message() -> None:
    output = text(render.detail(promotion(concluded(PromotionPhase.REJECTED, "9", "7")), NOW))
    accuracy = lines_with(output, "accuracy >= 0.9")[0]
    assert accuracy.split()[3:10] == ["offline", "0.55", ">=", "0.9", "-", "Failed", "gate"]
    assert "gate accuracy failed: 0.55 vs 0.9" in accuracy
    # a concluded promotion's unmeasured live gates were never judged: not "yet"
    assert "not judged" in lines_with(output, "error_rate <= 0.01")[0]


def test_history_shows_the_last_five_with_who_asked() -> None:
    status = concluded(PromotionPhase.PROMOTED, "8", "8")
    status.history += [
        HistoryEntry(version=str(v), outcome=PromotionPhase.PROMOTED, reason="old")
        for v in (4, 3, 2)
    ]
    output = text(render.detail(promotion(status), NOW))
    table = output[output.index("History (last 5)") :].splitlines()
    column = table[1].index("VERSION")
    versions = [line[column:].split()[0] for line in table[2:] if line.strip()]
    assert versions == ["8", "7", "6", "5", "4"]
    assert "abort by bob" in lines_with("\n".join(table), "RolledBack")[0]


def test_requests_show_the_operators_answer() -> None:
    status = concluded(PromotionPhase.ROLLED_BACK, "8", "7")
    status.requests = [
        answered("b", "undo", accepted=False, message="version 3 never passed here"),
        answered("a", "abort", message="version 8 aborted by alice: slow"),
    ]
    output = text(render.detail(promotion(status), NOW))
    section = output[output.index("Requests") :]
    assert "refused (undo by alice): version 3 never passed here" in section
    assert "accepted: version 8 aborted by alice: slow" in section
    assert section.index("undo by") < section.index("aborted by")  # newest first


def test_text_from_the_cluster_is_never_read_as_markup() -> None:
    status = verifying()
    status.message = "[bold red]not markup[/bold red] [/]"
    output = text(render.detail(promotion(status), NOW))
    assert "[bold red]not markup[/bold red] [/]" in output
