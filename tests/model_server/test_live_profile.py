"""The live profile: the rows the server is asked, counted in the bins of the model's reference
profile (the training's own binning), real traffic only, and served on /profile."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mlrollout.training.profile import bin_shares, build_reference
from model_server.profile import SMOKE_HEADER, LiveProfile

from . import models
from .conftest import serve


def test_the_server_bins_rows_exactly_as_the_training_did(data: models.Dataset) -> None:
    """The contract between the two: the same rows give the reference's own shares."""
    features = data.features
    reference = build_reference(features, np.zeros(len(features)))
    live = LiveProfile(reference, list(features.columns))
    for start in range(0, len(features), 50):  # in batches, as requests arrive
        live.update(features.to_numpy()[start : start + 50], None)
    counted = live.snapshot()
    assert counted["rows"] == len(features)
    for feature in reference["features"]:
        shares = [c / len(features) for c in counted["features"][feature["name"]]]
        assert shares == pytest.approx(feature["shares"])
        assert shares == pytest.approx(bin_shares(features[feature["name"]], feature["edges"]))


def test_a_constant_feature_gets_one_cut_and_two_bins() -> None:
    import pandas as pd

    reference = build_reference(pd.DataFrame({"c": [3.0] * 20, "x": range(20)}), [1] * 20)
    constant = next(f for f in reference["features"] if f["name"] == "c")
    assert constant["edges"] == [3.0]
    assert constant["shares"] == [1.0, 0.0]
    assert reference["predictions"] == {"1": 1.0}


def test_profile_counts_requests_not_warm_up_nor_smoke_load(
    profiled_dir: Path, data: models.Dataset, forest: Any
) -> None:
    rows = data.features.to_numpy()[:40].tolist()
    with serve(profiled_dir) as client:
        assert client.get("/profile").json()["live"]["rows"] == 0  # warm-up not counted
        for row in rows:
            assert client.post("/predict", json={"instances": [row]}).status_code == 200
        smoke = client.post("/predict", json={"instances": rows[:5]}, headers={SMOKE_HEADER: "1"})
        assert smoke.status_code == 200
        body = client.post(
            "/v2/models/profiled/infer",
            json={"inputs": [{"name": "input", "shape": [2, 30], "datatype": "FP64",
                              "data": [v for r in rows[:2] for v in r]}],
                  # two outputs of one request: its rows are counted once
                  "outputs": [{"name": "predict_proba"}, {"name": "predict"}]},
        )  # fmt: skip
        assert body.status_code == 200, body.text
        profile = client.get("/profile").json()
    assert profile["live"]["rows"] == 42
    expected = (
        forest.predict(data.features.iloc[:40]).tolist()
        + forest.predict(data.features.iloc[:2]).tolist()
    )
    assert profile["live"]["predictions"] == {
        str(label): expected.count(label) for label in set(expected)
    }
    assert all(sum(counts) == 42 for counts in profile["live"]["features"].values())
    assert profile["reference"]["rows"] == len(data.features)


def test_a_model_without_a_reference_profile_says_so(forest_dir: Path) -> None:
    with serve(forest_dir) as client:
        answer = client.get("/profile")
    assert answer.status_code == 404
    assert "without a reference profile" in answer.json()["error"]
