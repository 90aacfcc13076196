"""What `kubectl mlrollout get` shows: pure functions from ModelPromotion objects (as the API
returns them) to rich renderables. Every text a user or the spec wrote goes in as `Text`, never
as markup, so a '[' in a message prints as itself."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from promotion_operator.spec import Gate, InvalidSpec, ModelPromotionSpec, parse_spec
from promotion_operator.status import (
    ControlRecord,
    MeasurementPhase,
    PromotionPhase,
    PromotionStatus,
    VerificationProgress,
    read_status,
)

HISTORY_SHOWN = 5
REQUESTS_SHOWN = 3
SAMPLES_SHOWN = 5
_GOOD, _BAD, _WAIT = "green", "red", "yellow"
PHASE_STYLES = {
    PromotionPhase.PROMOTED: _GOOD,
    PromotionPhase.REJECTED: _BAD,
    PromotionPhase.ROLLED_BACK: _BAD,
    PromotionPhase.FAILED: _BAD,
    PromotionPhase.ROLLING_BACK: _WAIT,
    PromotionPhase.AWAITING_APPROVAL: _WAIT,
}
GATE_STYLES = {MeasurementPhase.SUCCESSFUL: _GOOD, MeasurementPhase.INCONCLUSIVE: _WAIT}


# -- small pieces ---------------------------------------------------------------------------
def age(since: datetime | None, now: datetime) -> str:
    """As kubectl prints an age: 45s, 12m, 3h, 5d."""
    if since is None:
        return "-"
    seconds = max(0, int((now - since).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def ago(moment: datetime | None, now: datetime) -> str:
    return "-" if moment is None else f"{age(moment, now)} ago"


def until(moment: datetime, now: datetime) -> str:
    return f"in {age(now, moment)}" if moment > now else f"passed {ago(moment, now)}"


def number(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def spec_of(obj: dict[str, Any]) -> ModelPromotionSpec | None:
    try:
        return parse_spec(obj.get("spec") or {})
    except InvalidSpec:
        return None


def created(obj: dict[str, Any]) -> datetime | None:
    stamp = (obj.get("metadata") or {}).get("creationTimestamp")
    try:
        return datetime.fromisoformat(str(stamp)) if stamp else None
    except ValueError:
        return None


def phase_text(status: PromotionStatus, paused: bool) -> Text:
    phase = status.current_phase
    text = Text(phase.value, style=PHASE_STYLES.get(phase, "cyan"))
    if paused:
        text.append(" (paused)", style=_WAIT)
    return text


def rounds_taken(verification: VerificationProgress) -> int:
    """Verification rounds measured so far (the fewest of any gate, as the operator counts)."""
    return min((len(s) for s in verification.measurements.values()), default=0)


def progress(spec: ModelPromotionSpec | None, status: PromotionStatus) -> str:
    """Strategy and how far it got, in a few words: 'canary · step 2/3 (50%) · round 2/6'."""
    strategy = status.strategy
    parts = [strategy.name if strategy else spec.rollout.strategy.value if spec else "-"]
    if strategy is not None and strategy.steps:
        parts.append(f"step {strategy.step}/{strategy.steps} ({strategy.weight}%)")
    if strategy is not None and strategy.mirror_percent is not None:
        parts.append(f"mirror {strategy.mirror_percent:g}%")
    if strategy is not None and strategy.agreement is not None:
        parts.append(f"agreement {strategy.agreement:.1%}")
    verification = status.verification
    if status.current_phase is PromotionPhase.VERIFYING and verification is not None:
        total = f"/{spec.rollout.verification.count}" if spec else ""
        parts.append(f"round {rounds_taken(verification)}{total}")
    return " · ".join(parts)


def answer_text(record: ControlRecord) -> Text:
    """The operator's answer to one request."""
    if record.accepted:  # the operator's message names the action and who asked
        text = Text("accepted", style=_GOOD)
    else:
        text = Text("refused", style=_BAD)
        text.append(f" ({record.action} by {record.requested_by})")
    if record.message:
        text.append(f": {record.message}")
    return text


# -- the table of all -----------------------------------------------------------------------
def table(objects: list[dict[str, Any]], now: datetime, *, all_namespaces: bool) -> Table:
    grid = Table(box=None, pad_edge=False, header_style="bold")
    columns = ["NAME", "PHASE", "MODEL", "CANDIDATE", "SERVING", "LAST KNOWN GOOD", "STRATEGY"]
    for column in (["NAMESPACE"] if all_namespaces else []) + columns + ["AGE"]:
        grid.add_column(column, no_wrap=column != "STRATEGY")
    for obj in objects:
        metadata, status, spec = obj.get("metadata") or {}, read_status(obj), spec_of(obj)
        model = spec.model.name if spec else str((obj.get("spec") or {}).get("model", "-"))
        cells: list[RenderableType] = [
            Text(str(metadata.get("name", "?"))),
            phase_text(status, bool(spec and spec.paused)),
            Text(model),
            Text(status.candidate_version or "-"),
            Text(status.serving_version or "-"),
            Text(status.last_known_good_version or "-"),
            Text(progress(spec, status)),
            Text(age(created(obj), now)),
        ]
        if all_namespaces:
            cells.insert(0, Text(str(metadata.get("namespace", "-"))))
        grid.add_row(*cells)
    return grid


# -- one promotion --------------------------------------------------------------------------
def detail(obj: dict[str, Any], now: datetime) -> Group:
    metadata, status, spec = obj.get("metadata") or {}, read_status(obj), spec_of(obj)
    name, namespace = str(metadata.get("name", "?")), str(metadata.get("namespace", "-"))
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold", no_wrap=True)
    facts.add_column()
    headline = phase_text(status, bool(spec and spec.paused))
    headline.append(f"  since {ago(status.phase_since, now)}" if status.phase_since else "")
    facts.add_row("Phase", headline)
    if status.message:
        facts.add_row("Message", Text(status.message))
    for label, value in _holds(name, namespace, spec, status, now):
        facts.add_row(label, value)
    facts.add_row("Versions", _versions(status))
    facts.add_row("Strategy", Text(_strategy(spec, status)))
    if status.verification is not None:
        facts.add_row("Verification", Text(_verification(spec, status.verification, now)))
    parts: list[RenderableType] = [
        Text(f"{name} (namespace {namespace})" + (f", model {spec.model.name}" if spec else ""),
             style="bold"),
        facts,
    ]  # fmt: skip
    parts += _section("Gates", _gates(spec, status))
    if status.verification is not None and status.verification.samples:
        parts += _section("Latest verification samples", _samples(status.verification, now))
    if status.history:
        parts += _section(f"History (last {HISTORY_SHOWN})", _history(status, now))
    if status.requests:
        parts += _section("Requests", _requests(status, now))
    return Group(*parts)


def _section(title: str, body: RenderableType) -> list[RenderableType]:
    return [Text(""), Text(title, style="bold"), body]


def _holds(
    name: str,
    namespace: str,
    spec: ModelPromotionSpec | None,
    status: PromotionStatus,
    now: datetime,
) -> list[tuple[str, Text]]:
    """What keeps the promotion where it is: a pause, an approval, a back-off, a rollback."""
    rows: list[tuple[str, Text]] = []
    where = f"{name} -n {namespace}"
    if status.paused_at is not None:
        text = f"since {ago(status.paused_at, now)}; kubectl mlrollout resume {where}"
        rows.append(("Paused", Text(text, style=_WAIT)))
    elif spec is not None and spec.paused:
        rows.append(("Paused", Text("asked (spec.paused); the operator has not held it yet")))
    if status.approval is not None:
        approval = status.approval
        text = f"{approval.stage}, asked {ago(approval.requested_at, now)}"
        if approval.deadline is not None:
            text += f", deadline {until(approval.deadline, now)}"
        rows.append(("Awaiting approval", Text(f"{text}; kubectl mlrollout approve {where}")))
    if status.retry is not None:
        retry = status.retry
        text = f"attempt {retry.attempt}, next {until(retry.next_attempt_at, now)}: {retry.reason}"
        rows.append(("Retrying", Text(text)))
    if status.rollback is not None and status.current_phase is PromotionPhase.ROLLING_BACK:
        rollback = status.rollback
        rows.append(("Rolling back", Text(f"{rollback.reason} ({ago(rollback.started_at, now)})")))
    return rows


def _versions(status: PromotionStatus) -> Text:
    text = Text("candidate ")
    text.append(status.candidate_version or "-", style="bold")
    run_id = status.candidate.run_id if status.candidate else None
    if run_id:
        text.append(f" (run {run_id})")
    text.append("   serving ")
    text.append(status.serving_version or "-", style="bold")
    text.append("   last known good ")
    text.append(status.last_known_good_version or "-", style="bold")
    return text


def _strategy(spec: ModelPromotionSpec | None, status: PromotionStatus) -> str:
    text = progress(spec, status)
    summary = status.strategy.summary if status.strategy else ""
    return f"{text}: {summary}" if summary else text


def _verification(
    spec: ModelPromotionSpec | None, verification: VerificationProgress, now: datetime
) -> str:
    taken = rounds_taken(verification)
    live = spec.rollout.verification if spec else None
    of = f" of {live.count} (every {live.interval_seconds}s)" if live else ""
    text = (
        f"{taken} round{'s' if taken != 1 else ''}{of}, started {ago(verification.started_at, now)}"
    )
    if verification.last_measured_at is not None:
        text += f", last measured {ago(verification.last_measured_at, now)}"
    if verification.passed:
        text += "; verified"
    return text


def _gates(spec: ModelPromotionSpec | None, status: PromotionStatus) -> Table:
    """Every gate judged so far, then the live gates still waiting for a measurement."""
    grid = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("GATE", "KIND", "VALUE", "THRESHOLD", "BASELINE", "PHASE", "NOTE"):
        numeric = column in ("VALUE", "THRESHOLD", "BASELINE")
        grid.add_column(column, justify="right" if numeric else "left", no_wrap=column != "NOTE")
    for gate in status.gates:
        failing = gate.phase is not MeasurementPhase.SUCCESSFUL
        grid.add_row(
            Text(gate.name), Text("live" if gate.source == "live" else "offline"),
            Text(number(gate.value)), Text(f"{gate.op} {number(gate.threshold)}"),
            Text(number(gate.baseline_value)),
            Text(gate.phase.value, style=GATE_STYLES.get(gate.phase, _BAD)),
            Text(gate.message if failing else ""),
        )  # fmt: skip
    judged = {g.name for g in status.gates}
    waiting = "not judged" if status.concluded else "not measured yet"
    for kind, wanted in _spec_gates(spec):
        if wanted.display_name not in judged:
            target = number(wanted.threshold) if wanted.baseline is None else wanted.baseline
            grid.add_row(Text(wanted.display_name), Text(kind), Text("-"),
                         Text(f"{wanted.op.value} {target}"), Text("-"), Text("-"),
                         Text(waiting, style="dim"))  # fmt: skip
    return grid


def _spec_gates(spec: ModelPromotionSpec | None) -> list[tuple[str, Gate]]:
    if spec is None:
        return []
    live = spec.rollout.verification.gates
    return [("offline", g) for g in spec.gates] + [("live", g) for g in live]


def _samples(verification: VerificationProgress, now: datetime) -> Table:
    samples = verification.samples[-SAMPLES_SHOWN:]
    metrics = list(dict.fromkeys(m for s in samples for m in s.values))
    grid = Table(box=None, pad_edge=False, header_style="bold")
    grid.add_column("WHEN")
    for metric in metrics:
        grid.add_column(metric, justify="right")
    for sample in reversed(samples):  # newest first, as history
        grid.add_row(
            Text(ago(sample.at, now)), *(Text(number(sample.values.get(m))) for m in metrics)
        )
    return grid


def _history(status: PromotionStatus, now: datetime) -> Table:
    grid = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("FINISHED", "VERSION", "OUTCOME", "BY", "REASON"):
        grid.add_column(column, no_wrap=column != "REASON")
    for entry in status.history[:HISTORY_SHOWN]:
        by = f"{entry.action} by {entry.requested_by or '?'}" if entry.action else "operator"
        outcome = Text(entry.outcome.value, style=PHASE_STYLES.get(entry.outcome, "cyan"))
        grid.add_row(Text(ago(entry.finished_at, now)), Text(entry.version or "-"), outcome,
                     Text(by), Text(entry.reason))  # fmt: skip
    return grid


def _requests(status: PromotionStatus, now: datetime) -> Table:
    grid = Table.grid(padding=(0, 2))
    for record in status.requests[:REQUESTS_SHOWN]:
        grid.add_row(Text(ago(record.handled_at, now)), answer_text(record))
    return grid
