"""prediction_agreement and a shadow's prediction_shift, from the shadow pods' counters."""

from __future__ import annotations

import pytest

from promotion_operator.agreement import agreement_values, mirror_outcomes
from promotion_operator.ports import LiveSample, MirrorCounters, PodCounters


def shadow_pod(rows: float, agreed: float, labels: dict[tuple[str, str], float]) -> PodCounters:
    return PodCounters(rows, 0, mirror=MirrorCounters({}, rows, agreed, labels))


def test_agreement_is_summed_over_the_shadow_pods() -> None:
    sample = LiveSample({
        "a": shadow_pod(100, 90, {("champion", "0"): 50, ("champion", "1"): 50,
                                  ("candidate", "0"): 60, ("candidate", "1"): 40}),
        "b": shadow_pod(300, 210, {("champion", "0"): 150, ("champion", "1"): 150,
                                   ("candidate", "0"): 240, ("candidate", "1"): 60}),
    })  # fmt: skip
    values, details = agreement_values(sample)
    assert values["prediction_agreement"] == pytest.approx(300 / 400)
    # candidate 0: 300/400 = 0.75 against the champion's 0.5: a quarter of the rows changed
    assert values["prediction_shift"] == pytest.approx(0.25)
    assert details["prediction_agreement"] == "agreed on 300 of 400 rows"
    assert "{'0': 0.75, '1': 0.25} vs champion {'0': 0.5, '1': 0.5}" in details["prediction_shift"]


def test_too_few_compared_rows_is_no_data() -> None:
    values, details = agreement_values(LiveSample({"a": shadow_pod(99, 99, {})}))
    assert values == {"prediction_agreement": None}
    assert "99 mirrored rows compared, fewer than the 100" in details["prediction_agreement"]


def test_regression_shadows_give_agreement_without_a_label_shift() -> None:
    values, _ = agreement_values(LiveSample({"a": shadow_pod(500, 480, {})}))
    assert values == {"prediction_agreement": pytest.approx(0.96)}


def test_the_champions_outcomes_are_summed_over_its_pods() -> None:
    pod = PodCounters(10, 0, mirror=MirrorCounters({"sent": 8, "dropped": 2}))
    assert mirror_outcomes(LiveSample({"a": pod, "b": pod})) == {"sent": 16, "dropped": 4}
