"""Request bodies → model inputs, with a 400 that names the problem for every bad input.

The happy path stays vectorised (one `np.array` call and a dtype check); element-by-element
scans run only to explain an input that was already found wrong.
"""

from __future__ import annotations

import asyncio
import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from .errors import InvalidInput

FloatArray = npt.NDArray[np.float64]
LARGE_BODY_BYTES = 64 * 1024  # parsing this much JSON takes long enough to hold other requests

V2_NUMERIC = {
    "BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64",
    "FP16", "FP32", "FP64",
}  # fmt: skip


@dataclass(frozen=True)
class InputSpec:
    """What the served model takes: its features and whether missing values are allowed."""

    feature_names: tuple[str, ...] | None
    n_features: int | None
    allow_nan: bool


def parse_json(body: bytes) -> Any:
    """Strict JSON via orjson; the stdlib parser only to accept NaN/Infinity literals."""
    if not body:
        raise InvalidInput("empty request body: send a JSON object")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as strict_error:
        try:  # Python clients send NaN/Infinity by default; judge the values, not the syntax
            return json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise InvalidInput(f"body is not valid JSON: {strict_error}") from None
        except RecursionError:  # orjson stops at 1024 levels; the stdlib parser would crash
            raise InvalidInput("body is nested too deeply: rows are lists of numbers") from None


async def parse_json_body(body: bytes) -> Any:
    """`parse_json`, off the event loop for large bodies so one upload never stalls the others."""
    if len(body) < LARGE_BODY_BYTES:
        return parse_json(body)
    return await asyncio.to_thread(parse_json, body)


def instances_of(payload: Any) -> list[Any]:
    """The row list of a `/predict` body: `{"instances": [[...], ...]}` or a list of records."""
    if not isinstance(payload, dict) or "instances" not in payload:
        raise InvalidInput('body must be a JSON object with an "instances" list')
    rows = payload["instances"]
    if not isinstance(rows, list):
        raise InvalidInput('"instances" must be a list of rows')
    if not rows:
        raise InvalidInput('empty batch: "instances" must hold at least one row')
    return rows


def matrix_from_rows(rows: list[Any], spec: InputSpec, where: str = "instances") -> FloatArray:
    """Rows (lists of numbers, or records keyed by feature name) → a checked float matrix."""
    if all(isinstance(r, dict) for r in rows):
        rows = _records_to_lists(rows, spec, where)
    elif any(not isinstance(r, list) for r in rows):
        bad = next(i for i, r in enumerate(rows) if not isinstance(r, list))
        raise InvalidInput(
            f"{where}[{bad}] must be a list of feature values or an object keyed by feature name"
        )
    width = spec.n_features
    for i, row in enumerate(rows):
        if width is not None and len(row) != width:
            raise InvalidInput(f"{where}[{i}] has {len(row)} values; the model takes {width}")
    matrix = to_float(rows, where)
    if matrix.ndim != 2:
        raise InvalidInput(f"{where} must be a list of rows of numbers")
    check_values(matrix, spec, where)
    return matrix


def _records_to_lists(records: list[Any], spec: InputSpec, where: str) -> list[Any]:
    names = spec.feature_names
    if names is None:
        raise InvalidInput(f"{where}: this model has no feature names; send rows as lists")
    known = set(names)
    rows: list[Any] = []
    for i, record in enumerate(records):
        missing = [n for n in names if n not in record]
        if missing:
            raise InvalidInput(f"{where}[{i}] lacks feature {missing[0]!r}")
        unknown = [k for k in record if k not in known]
        if unknown:
            raise InvalidInput(f"{where}[{i}] has unknown feature {unknown[0]!r}")
        rows.append([record[n] for n in names])
    return rows


def to_float(data: Any, where: str) -> FloatArray:
    """One vectorised conversion; null becomes NaN; strings and objects are refused by place."""
    try:
        arr = np.array(data)
    except (ValueError, TypeError):
        raise InvalidInput(f"{where}: rows of unequal length or nested values") from None
    if arr.dtype.kind in "fiub":
        return arr.astype(np.float64, copy=False)
    if arr.dtype.kind == "O" and all(_is_number_or_null(v) for v in arr.flat):
        return np.array(np.where(arr == None, np.nan, arr), dtype=np.float64)  # noqa: E711
    place, value = _first_non_number(data)
    raise InvalidInput(
        f"{where}{place}: expected a number, got {type(value).__name__} {value!r:.40}"
    )


def _is_number_or_null(value: Any) -> bool:
    return value is None or isinstance(value, bool | int | float)


def _first_non_number(data: Any, place: str = "") -> tuple[str, Any]:
    """Where the first value that is not a number (or null) sits in the original nested lists."""
    if isinstance(data, list):
        for i, item in enumerate(data):
            found = _first_non_number(item, f"{place}[{i}]")
            if found[0]:
                return found
        return "", None
    return ("", None) if _is_number_or_null(data) else (place or "[]", data)


def check_values(matrix: FloatArray, spec: InputSpec, where: str) -> None:
    """Infinity is never a feature value; NaN only where the model handles missing values."""
    if matrix.size and not np.isfinite(matrix).all():
        bad = np.argwhere(~np.isfinite(matrix))[0]
        value = float(matrix[tuple(bad)])
        place = "".join(f"[{i}]" for i in bad)
        if math.isinf(value):
            raise InvalidInput(f"{where}{place}: infinite values are not valid features")
        if not spec.allow_nan:
            raise InvalidInput(
                f"{where}{place}: missing value (null/NaN); this model does not accept "
                "missing values"
            )
