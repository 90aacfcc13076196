"""MLflow as a team runs it, for real: PostgreSQL behind it, the basic-auth app in front.

The schema is migrated by `mlrollout db-upgrade` (the chart's init container) before the server
starts; the operator's registry client then reads and writes with a Secret's credentials, and a
wrong or missing login is an error that says which, never the password.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest

from mlrollout import tracking_server
from promotion_operator.registry import Credentials, Registry, Unauthorized
from tests.host_postgres import HostPostgres, NoPostgres

from .test_registry import register_version

pytestmark = pytest.mark.integration

ADMIN, ADMIN_PASSWORD = "admin", "admin-password-for-tests-1"
MODEL = "team-model"


@pytest.fixture(scope="module")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostPostgres]:
    server = HostPostgres(tmp_path_factory.mktemp("pg") / "pg")
    try:
        server.start()
    except NoPostgres as exc:
        if os.environ.get("MLROLLOUT_E2E_REQUIRED") == "1":
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    yield server
    server.stop()


def db_upgrade(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "mlrollout", "db-upgrade", *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def test_migrators_started_together_take_turns(postgres: HostPostgres) -> None:
    """Three pods' init containers at once on an empty database: one creates the schema, the
    others wait for the lock and find it current; all succeed."""
    uri = postgres.create_database("race")
    migrators = [db_upgrade("--backend-store-uri", uri) for _ in range(3)]
    outputs = [m.communicate(timeout=180)[0] for m in migrators]
    assert [m.returncode for m in migrators] == [0, 0, 0], "\n".join(outputs)
    assert sum("creating MLflow's tables" in out for out in outputs) == 1, outputs
    revisions = {line for out in outputs for line in out.splitlines() if "at revision" in line}
    assert len(revisions) == 1, outputs
    assert all("test-password" not in out for out in outputs)  # the URI is logged redacted


def test_an_unreachable_database_is_an_error_with_a_next_step(postgres: HostPostgres) -> None:
    wrong = postgres.uri("race", password="not-the-password")
    result = db_upgrade("--backend-store-uri", wrong, "--timeout", "1")
    out = result.communicate(timeout=60)[0]
    assert result.returncode == 1, out
    assert "did not accept a connection" in out
    assert "password" in out
    assert "not-the-password" not in out


@pytest.fixture(scope="module")
def team_mlflow(postgres: HostPostgres, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`mlflow server --app-name basic-auth` on PostgreSQL, migrated as the chart does."""
    backend, users = postgres.create_database("mlflow"), postgres.create_database("mlflow_auth")
    migrated = db_upgrade("--backend-store-uri", backend, "--auth-database-uri", users)
    output = migrated.communicate(timeout=180)[0]
    assert migrated.returncode == 0, output
    root = tmp_path_factory.mktemp("team-mlflow")
    config = tracking_server.TrackingServerConfig(
        store_dir=root, port=tracking_server.free_port(), database_uri=backend,
        auth=tracking_server.BasicAuth(ADMIN, ADMIN_PASSWORD, users),
    )  # fmt: skip
    process = tracking_server.start(config, root / "server.log")
    yield config.url
    tracking_server.stop(process)
    assert ADMIN_PASSWORD not in (root / "server.log").read_text()


@pytest.fixture(scope="module")
def version(team_mlflow: str) -> str:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("MLFLOW_TRACKING_URI", team_mlflow)
        env.setenv("MLFLOW_TRACKING_USERNAME", ADMIN)
        env.setenv("MLFLOW_TRACKING_PASSWORD", ADMIN_PASSWORD)
        import mlflow

        mlflow.set_tracking_uri(team_mlflow)
        return register_version(MODEL, {"accuracy": 0.93})


def registry(url: str, username: str | None, password: str | None) -> Registry:
    return Registry(url, Credentials(username, password, source="Secret 'mlflow-login'"))


def test_the_operator_promotes_with_the_secrets_login(team_mlflow: str, version: str) -> None:
    admin = registry(team_mlflow, ADMIN, ADMIN_PASSWORD)

    async def promote() -> str:
        await admin.set_alias(MODEL, "production", version)
        await admin.set_version_tags(MODEL, version, {"mlrollout.dev/outcome": "promoted"})
        return (await admin.version_for_alias(MODEL, "production")).version

    assert asyncio.run(promote()) == version


@pytest.mark.parametrize(
    ("username", "password", "says"),
    [
        (ADMIN, "wrong-password-1", "the credentials in Secret 'mlflow-login' are wrong"),
        (None, None, "it requires a login; name a Secret"),
    ],
)
def test_a_refused_login_says_why_and_never_the_password(
    team_mlflow: str, version: str, username: str | None, password: str | None, says: str
) -> None:
    with pytest.raises(Unauthorized) as refused:
        asyncio.run(registry(team_mlflow, username, password).model_version(MODEL, version))
    assert "401" in str(refused.value)
    assert says in str(refused.value)
    assert "wrong-password-1" not in str(refused.value)


def test_a_user_without_edit_is_told_what_to_grant(team_mlflow: str, version: str) -> None:
    created = httpx.post(
        f"{team_mlflow}/api/2.0/mlflow/users/create",
        json={"username": "reader", "password": "reader-password-1"},
        auth=(ADMIN, ADMIN_PASSWORD), timeout=30,
    )  # fmt: skip
    assert created.status_code == 200, created.text
    reader = registry(team_mlflow, "reader", "reader-password-1")
    assert asyncio.run(reader.model_version(MODEL, version)).version == version  # READ
    with pytest.raises(Unauthorized, match=r"403 Forbidden.*give it EDIT"):
        asyncio.run(reader.set_alias(MODEL, "production", version))


def test_probes_need_no_login(team_mlflow: str) -> None:
    """The chart's readiness and liveness probes call /health without credentials."""
    assert httpx.get(f"{team_mlflow}/health", timeout=10).status_code == 200
    search = httpx.get(f"{team_mlflow}/api/2.0/mlflow/experiments/search", timeout=10)
    assert search.status_code == 401
