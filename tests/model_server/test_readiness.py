"""Readiness is earned: a model that cannot load or cannot answer its warm-up never serves."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from model_server.app import create_app
from model_server.runtime import State
from model_server.settings import ServerSettings

from .conftest import serve, wait_until_settled


def assert_never_ready(client: TestClient, reason: str) -> None:
    ready = client.get("/v2/health/ready")
    assert ready.status_code == 503
    assert ready.json()["ready"] is False
    assert reason in ready.json()["reason"]
    assert client.get("/v2/health/live").status_code == 200  # liveness stays independent
    refused = client.post("/predict", json={"instances": [[1.0]]})
    assert refused.status_code == 503
    assert "model not ready" in refused.json()["error"]


def test_missing_model_directory_never_becomes_ready(tmp_path: Path) -> None:
    with serve(tmp_path / "nothing-here", load_attempts=2) as client:
        assert client.app.state.runtime.state is State.FAILED  # type: ignore[attr-defined]
        assert_never_ready(client, "not an MLflow model directory")
        assert client.get("/v2/health/ready").json()["state"] == "failed"


def test_corrupt_model_file_never_becomes_ready(forest_dir: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(forest_dir, broken)
    (broken / "model.skops").write_bytes(b"this is not a skops archive")
    with serve(broken, load_attempts=1) as client:
        assert_never_ready(client, "model failed to load")


def test_untrusted_types_are_refused_by_the_server(forest_dir: Path, tmp_path: Path) -> None:
    # The allow-list is the server's, not the one stored in the model's MLmodel file.
    with serve(forest_dir, load_attempts=1) as client:
        assert client.get("/v2/health/ready").status_code == 200
    import model_server.loader as loader

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(loader, "DEFAULT_TRUSTED_TYPES", ())
        with serve(forest_dir, load_attempts=1) as client:
            assert_never_ready(client, "MODEL_SERVER_TRUSTED_TYPES")


def test_pickled_and_code_models_need_explicit_trust(flaky_dir: Path) -> None:
    with serve(flaky_dir, load_attempts=1) as client:
        assert_never_ready(client, "MODEL_SERVER_TRUST_MODEL_CODE=true")


def test_a_failing_warm_up_keeps_the_server_unready(flaky_dir: Path, tmp_path: Path) -> None:
    # The input example makes the model raise: loaded is not enough, it must also answer.
    broken = tmp_path / "warmup-fails"
    shutil.copytree(flaky_dir, broken)
    example = broken / "input_example.json"
    example.write_text('{"columns": ["a", "b"], "data": [[999.0, 1.0]]}')
    with serve(broken, load_attempts=1, trust_model_code=True) as client:
        assert_never_ready(client, "boom")


def test_not_ready_while_loading(forest_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from model_server import loader

    release = threading.Event()
    real_load = loader.load

    def slow_load(*args: object, **kwargs: object) -> loader.LoadedModel:
        release.wait(10)
        return real_load(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(loader, "load", slow_load)
    app = create_app(ServerSettings(model_uri=str(forest_dir)))
    with TestClient(app) as client:
        loading = client.get("/v2/health/ready")
        assert loading.status_code == 503
        assert loading.json()["reason"] == "model is loading"
        assert client.get("/v2/health/live").status_code == 200
        release.set()
        assert wait_until_settled(app) is State.READY
        assert client.get("/v2/health/ready").status_code == 200
