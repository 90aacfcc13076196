"""Shadow gate values from the shadow pods' mirror counters (pure arithmetic).

The champion's pods mirror live requests to the shadow with their own answers; each shadow pod
predicts the same rows and counts, cumulatively, the rows it compared, those on which the two
models agreed (equal labels; regression: within `agreementTolerance`) and each side's labels.
`prediction_agreement` is agreed / compared rows over the whole shadow so far, and
`prediction_shift`, in a shadow, the total variation distance between the two sides' labels on
those same rows (sharper than against the champion's earlier traffic). Fewer than MIN_ROWS
compared rows is no data, judged by the gate's `onNoData`.
"""

from __future__ import annotations

from dataclasses import dataclass

from .drift import MIN_ROWS, PREDICTION_SHIFT, label_shares, rounded, shift
from .ports import LiveSample

PREDICTION_AGREEMENT = "prediction_agreement"


@dataclass(frozen=True)
class Comparison:
    """The shadow's pods' mirror counters, summed."""

    rows: float
    agreed: float
    champion: dict[str, float]  # label → rows, as the champion answered them
    candidate: dict[str, float]

    @property
    def agreement(self) -> float | None:
        return self.agreed / self.rows if self.rows > 0 else None


def comparison(sample: LiveSample) -> Comparison:
    rows = agreed = 0.0
    sides: dict[str, dict[str, float]] = {"champion": {}, "candidate": {}}
    for pod in sample.pods.values():
        rows += pod.mirror.rows
        agreed += pod.mirror.agreed
        for (side, label), count in pod.mirror.labels.items():
            if side in sides:
                sides[side][label] = sides[side].get(label, 0.0) + count
    return Comparison(rows, agreed, sides["champion"], sides["candidate"])


def mirror_outcomes(sample: LiveSample) -> dict[str, float]:
    """What the champion's pods did with the requests they would mirror: sent, dropped, failed."""
    outcomes: dict[str, float] = {}
    for pod in sample.pods.values():
        for outcome, count in pod.mirror.outcomes.items():
            outcomes[outcome] = outcomes.get(outcome, 0.0) + count
    return outcomes


def agreement_values(sample: LiveSample) -> tuple[dict[str, float | None], dict[str, str]]:
    """The shadow gates' values and, per metric, a detail for the gate's message."""
    seen = comparison(sample)
    if seen.rows < MIN_ROWS:
        why = f"{seen.rows:.0f} mirrored rows compared, fewer than the {MIN_ROWS} agreement needs"
        return {PREDICTION_AGREEMENT: None}, {PREDICTION_AGREEMENT: why}
    values: dict[str, float | None] = {PREDICTION_AGREEMENT: seen.agreement}
    details = {PREDICTION_AGREEMENT: f"agreed on {seen.agreed:.0f} of {seen.rows:.0f} rows"}
    if seen.champion and seen.candidate:
        candidate, champion = label_shares(seen.candidate), label_shares(seen.champion)
        values[PREDICTION_SHIFT] = shift(candidate, champion)
        details[PREDICTION_SHIFT] = (
            f"on the same {seen.rows:.0f} mirrored rows: candidate {rounded(candidate)} "
            f"vs champion {rounded(champion)}"
        )
    return values, details
