"""Shadow mirroring, shadow side: the champion's mirrored requests, predicted and compared here.

A server with `MODEL_SERVER_MIRROR_SHARE` above 0 is a shadow: champions send it that share of
the requests they answered (`mirror.py`), with their predictions, to POST /mirror. The shadow
predicts the same rows and counts in its own metrics the rows compared, the rows it agreed on
and the labels each side predicted; verification reads them there. The operator's smoke load is
predicted and answered but not counted (it is the input example over and over, not traffic).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from .errors import InvalidInput
from .inputs import FloatArray, InputSpec, matrix_from_rows
from .metrics import ServerMetrics
from .profile import label_of

SIDES = ("champion", "candidate")
# Distinct labels counted per side; the rest are counted as "other" (a bounded set of series,
# whatever a regression model or a broken one predicts).
LABEL_CAP = 32


def parse_mirrored(payload: Any, spec: InputSpec) -> tuple[FloatArray, list[Any]]:
    """The mirrored rows, checked as /predict checks its rows, and the champion's predictions."""
    if not isinstance(payload, dict):
        raise InvalidInput('body must be a JSON object with "inputs" and "predictions" lists')
    rows = payload.get("inputs")
    if not isinstance(rows, list) or not rows:
        raise InvalidInput('"inputs" must be a non-empty list of rows')
    matrix = matrix_from_rows(rows, spec, "inputs")
    predictions = payload.get("predictions")
    if not isinstance(predictions, list):
        raise InvalidInput('"predictions" must be a list: the champion\'s answer for each row')
    if len(predictions) != len(rows):
        raise InvalidInput(
            f'"predictions" has {len(predictions)} values for {len(rows)} rows of "inputs"'
        )
    version = payload.get("model_version")
    if version is not None and not isinstance(version, str):
        raise InvalidInput('"model_version" must be a string (the champion\'s version)')
    return matrix, predictions


def agrees(champion: Any, candidate: Any, tolerance: float) -> bool:
    """Two numbers within ``tolerance`` agree; anything else agrees as the same label
    (1.0 and 1 are the label "1", as in the reference profile)."""
    champion, candidate = _plain(champion), _plain(candidate)
    numbers = _is_number(champion) and _is_number(candidate)
    if numbers and abs(champion - candidate) <= tolerance:
        return True
    return label_of(champion) == label_of(candidate)


class Comparison:
    """The shadow's counts of mirrored rows, agreed rows and labels, in its metrics."""

    def __init__(self, metrics: ServerMetrics, tolerance: float) -> None:
        self._metrics = metrics
        self._tolerance = tolerance
        self._seen: dict[str, set[str]] = {side: set() for side in SIDES}

    def compare(self, champion: list[Any], candidate: Any, count: bool) -> int:
        """How many rows agree; counted in the metrics only when ``count`` (real traffic)."""
        ours = np.asarray(candidate).tolist()
        agreed = sum(agrees(a, b, self._tolerance) for a, b in zip(champion, ours, strict=True))
        if count:
            self._metrics.mirror_rows.inc(len(champion))
            self._metrics.mirror_agreed_rows.inc(agreed)
            self._count_labels("champion", champion)
            self._count_labels("candidate", ours)
        return agreed

    def _count_labels(self, side: str, values: list[Any]) -> None:
        for label, times in Counter(label_of(v) for v in values if _is_label(v)).items():
            self._metrics.mirror_predictions.labels(side, self._capped(side, label)).inc(times)

    def _capped(self, side: str, label: str) -> str:
        seen = self._seen[side]
        if label in seen or len(seen) < LABEL_CAP:
            seen.add(label)
            return label
        return "other"


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_label(value: Any) -> bool:
    """Class labels, not scores: strings, bools, integers and integral floats."""
    value = _plain(value)
    return isinstance(value, str | bool | int) or (isinstance(value, float) and value.is_integer())
