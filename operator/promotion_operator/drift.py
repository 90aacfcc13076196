"""Drift gate values from the candidate pods' live profiles (pure arithmetic).

`input_drift_psi_max`: the population stability index of each input feature, live against the
model's reference profile (training data), in the reference's bins; the largest, and which
feature it was. `prediction_shift`: the total variation distance between the candidate's live
label shares and the champion's (its pods' own profile, read before the rollout replaced them):
the share of predictions that would have to change label for the two to match.

Counts are summed over the candidate's pods (each counts since it became ready, so: the
verification's real traffic; the smoke load is not counted). Fewer than MIN_ROWS live rows is
no data, which the gate's `onNoData` judges: too little traffic is never a pass by accident.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from .ports import LiveSample

INPUT_DRIFT_PSI_MAX = "input_drift_psi_max"
PREDICTION_SHIFT = "prediction_shift"
METRICS = (INPUT_DRIFT_PSI_MAX, PREDICTION_SHIFT)
MIN_ROWS = 100
# An empty bin's share: PSI takes a log of each share, and a bin with no rows is common.
_FLOOR = 1e-4


def psi(expected: Iterable[float], actual: Iterable[float]) -> float:
    """Sum over the bins of (actual - expected) * ln(actual / expected), shares floored."""
    total = 0.0
    for raw_expected, raw_actual in zip(expected, actual, strict=True):
        e, a = max(raw_expected, _FLOOR), max(raw_actual, _FLOOR)
        total += (a - e) * math.log(a / e)
    return total


def label_shares(counts: dict[str, float]) -> dict[str, float]:
    total = sum(counts.values())
    return {label: c / total for label, c in counts.items()} if total > 0 else {}


def shift(left: dict[str, float], right: dict[str, float]) -> float:
    """Total variation distance between two label distributions (0: same, 1: disjoint)."""
    labels = set(left) | set(right)
    return 0.5 * sum(abs(left.get(k, 0.0) - right.get(k, 0.0)) for k in labels)


def live_predictions(sample: LiveSample) -> tuple[float, dict[str, float]]:
    """Rows and per-label counts summed over the sample's pods with a profile."""
    rows, labels = 0.0, dict[str, float]()
    for profile in _profiles(sample):
        rows += profile["live"]["rows"]
        for label, count in profile["live"]["predictions"].items():
            labels[label] = labels.get(label, 0.0) + count
    return rows, labels


def drift_values(
    sample: LiveSample, champion: dict[str, float] | None
) -> tuple[dict[str, float | None], dict[str, str]]:
    """The drift gates' values and, per metric, a detail for the gate's message."""
    profiles = _profiles(sample)
    rows, labels = live_predictions(sample)
    if not profiles:
        why = "the model has no reference profile (log it with mlrollout train)"
        return {INPUT_DRIFT_PSI_MAX: None, PREDICTION_SHIFT: None}, {INPUT_DRIFT_PSI_MAX: why}
    if rows < MIN_ROWS:
        why = f"{rows:.0f} live rows, fewer than the {MIN_ROWS} drift needs"
        return ({INPUT_DRIFT_PSI_MAX: None, PREDICTION_SHIFT: None},
                {INPUT_DRIFT_PSI_MAX: why, PREDICTION_SHIFT: why})  # fmt: skip
    worst, worst_name = 0.0, ""
    for feature in profiles[0]["reference"]["features"]:
        name = feature["name"]
        counts = [
            sum(c) for c in zip(*(p["live"]["features"][name] for p in profiles), strict=True)
        ]
        value = psi(feature["shares"], [c / rows for c in counts])
        if value >= worst:
            worst, worst_name = value, name
    details = {INPUT_DRIFT_PSI_MAX: f"worst feature {worst_name!r}, {rows:.0f} live rows"}
    prediction_shift = None
    if champion:
        prediction_shift = shift(label_shares(labels), champion)
        details[PREDICTION_SHIFT] = f"candidate {_shares(labels)} vs champion {rounded(champion)}"
    else:
        details[PREDICTION_SHIFT] = "no live predictions of a champion to compare with"
    return {INPUT_DRIFT_PSI_MAX: worst, PREDICTION_SHIFT: prediction_shift}, details


def _profiles(sample: LiveSample) -> list[dict[str, Any]]:
    return [p.profile for p in sample.pods.values() if p.profile is not None]


def _shares(counts: dict[str, float]) -> dict[str, float]:
    return rounded(label_shares(counts))


def rounded(shares: dict[str, float]) -> dict[str, float]:
    """Label shares as a message shows them: sorted, three decimals."""
    return {label: round(share, 3) for label, share in sorted(shares.items())}
