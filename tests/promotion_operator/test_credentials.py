"""MLflow credentials go only to hosts the operator allows; their values reach nothing else."""

from __future__ import annotations

import asyncio

import pytest
from kubernetes.client.exceptions import ApiException

from promotion_operator.credentials import (
    CachedCredentials,
    CredentialsMissing,
    CredentialsRefused,
    SecretReader,
    check_host,
)
from promotion_operator.registry import Credentials
from promotion_operator.spec import SecretRef


@pytest.mark.parametrize(
    "uri",
    ["http://mlflow:5000", "https://mlflow.ml.svc", "http://mlflow.ml.svc.cluster.local:5000/"],
)  # fmt: skip
def test_in_cluster_services_may_receive_credentials_by_default(uri: str) -> None:
    check_host(uri, [])


@pytest.mark.parametrize(
    "uri",
    [
        "https://mlflow.example.com",
        "http://10.0.0.5:5000",
        "http://attacker.io:80",
        "http://mlflow.ml:5000",
    ],  # `svc.namespace` could be a public domain: say .svc
)
def test_other_hosts_are_refused_by_default_and_named(uri: str) -> None:
    with pytest.raises(CredentialsRefused, match="MLROLLOUT_OPERATOR_MLFLOW_CREDENTIAL_HOSTS"):
        check_host(uri, [])


def test_an_allow_list_replaces_the_default() -> None:
    check_host("https://mlflow.corp.example.com", ["*.corp.example.com"])
    check_host("http://10.244.0.1:5000", ["10.244.0.1"])
    with pytest.raises(CredentialsRefused):
        check_host("http://mlflow:5000", ["*.corp.example.com"])


def test_the_secret_is_read_once_per_ttl_and_decoded() -> None:
    reads: list[tuple[str, str]] = []

    async def read_secret(name: str, namespace: str) -> dict[str, str]:
        reads.append((name, namespace))
        return {"username": "dXNlcg==", "password": "cGFzcw=="}

    cache = CachedCredentials()
    ref = SecretRef(name="mlflow")

    async def twice() -> None:
        for _ in range(2):
            found = await cache.read(ref, "ml", read_secret)
            assert found is not None
            assert (found.username, found.password, found.token) == ("user", "pass", None)

    asyncio.run(twice())
    assert reads == [("mlflow", "ml")]


def _reader(error: int | None = None, data: dict[str, str] | None = None) -> SecretReader:
    async def read_secret(name: str, namespace: str) -> dict[str, str]:
        if error is not None:
            raise ApiException(status=error, reason="x")
        return data or {}

    return read_secret


@pytest.mark.parametrize(
    ("reader", "says"),
    [
        (_reader(404), "Secret 'mlflow' (spec.mlflow.credentialsSecretRef) does not exist in "
                       "namespace ml; create it, with keys 'username' and 'password'"),
        (_reader(403), "add its name to the chart's operator.mlflowCredentialSecrets"),
        (_reader(data={"user": "eA=="}), "has neither 'username' and 'password' nor 'token'; "
                                         "it holds the keys ['user']"),
    ],
)  # fmt: skip
def test_a_missing_secret_or_key_says_what_to_create(reader: SecretReader, says: str) -> None:
    with pytest.raises(CredentialsMissing) as missing:
        asyncio.run(CachedCredentials().read(SecretRef(name="mlflow"), "ml", reader))
    assert says in str(missing.value)


def test_credentials_never_print_their_values() -> None:
    shown = repr(Credentials("user", "s3cret-pass", "s3cret-token", source="Secret 'x'"))
    assert "s3cret" not in shown
    assert "user" in shown
