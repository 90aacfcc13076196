"""The operator's MLflow REST client against a real `mlflow server`."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from mlrollout.tracking_server import free_port
from promotion_operator.registry import NotFound, Registry, RegistryUnavailable

pytestmark = pytest.mark.integration


def register_version(name: str, metrics: dict[str, float]) -> str:
    """A real run with metrics and a registered model version pointing at it."""
    import mlflow
    from mlflow import MlflowClient

    with mlflow.start_run() as run:
        mlflow.log_metrics(metrics)
        mlflow.log_param("algorithm", "test")
    client = MlflowClient()
    if not client.search_registered_models(filter_string=f"name = '{name}'"):
        client.create_registered_model(name)
    version = client.create_model_version(name, f"runs:/{run.info.run_id}/model", run.info.run_id)
    return str(version.version)


def test_reads_versions_runs_aliases_and_writes_back(mlflow_tracking: str) -> None:
    from mlflow import MlflowClient

    version = register_version("registry-test", {"accuracy": 0.97, "latency_p95_ms": 3.5})
    registry = Registry(mlflow_tracking)

    async def scenario() -> dict[str, Any]:
        found = await registry.model_version("registry-test", version)
        run = await registry.run(found.run_id or "")
        await registry.set_alias("registry-test", "production", version)
        by_alias = await registry.version_for_alias("registry-test", "production")
        await registry.set_version_tags("registry-test", version, {"mlrollout.dev/outcome": "ok"})
        return {"found": found, "run": run, "by_alias": by_alias}

    result = asyncio.run(scenario())
    assert result["found"].version == version
    assert result["run"].metrics == {"accuracy": 0.97, "latency_p95_ms": 3.5}
    assert result["run"].params == {"algorithm": "test"}
    assert result["by_alias"].version == version
    tags = MlflowClient().get_model_version("registry-test", version).tags
    assert tags["mlrollout.dev/outcome"] == "ok"


def test_model_tags_hold_the_alias_claim(mlflow_tracking: str) -> None:
    """The tags `alias_claim` keeps on the registered model itself, read back by MLflow."""
    from mlflow import MlflowClient

    register_version("claim-test", {"accuracy": 0.9})
    registry = Registry(mlflow_tracking)

    async def scenario() -> dict[str, str]:
        assert await registry.model_tags("claim-test") == {}
        await registry.set_model_tag("claim-test", "mlrollout.dev/alias-owner.production", "ml/a")
        return await registry.model_tags("claim-test")

    assert asyncio.run(scenario()) == {"mlrollout.dev/alias-owner.production": "ml/a"}
    tags = MlflowClient().get_registered_model("claim-test").tags
    assert tags["mlrollout.dev/alias-owner.production"] == "ml/a"
    with pytest.raises(NotFound):
        asyncio.run(registry.model_tags("no-such-model"))


def test_missing_things_are_not_found(mlflow_tracking: str) -> None:
    registry = Registry(mlflow_tracking)
    with pytest.raises(NotFound):
        asyncio.run(registry.model_version("no-such-model", "1"))
    with pytest.raises(NotFound):
        asyncio.run(registry.version_for_alias("no-such-model", "champion"))


def test_unreachable_server_is_unavailable_not_an_exception_storm() -> None:
    registry = Registry(f"http://127.0.0.1:{free_port()}", timeout_s=2)
    with pytest.raises(RegistryUnavailable, match="cannot reach MLflow"):
        asyncio.run(registry.model_version("m", "1"))
