"""The webhook URL reaches the operator from a Secret (never from a value), only when asked."""

from __future__ import annotations

from typing import Any

from .rendering import CHART, helm, render

TAG = ("--set", "operator.image.tag=x", "--set", "mlflow.enabled=false")


def _operator_env(*args: str) -> list[dict[str, Any]]:
    docs = render(*TAG, *args)
    [operator] = [
        d
        for d in docs
        if d["kind"] == "Deployment" and d["metadata"]["name"] == "rel-mlrollout-operator"
    ]
    env: list[dict[str, Any]] = operator["spec"]["template"]["spec"]["containers"][0]["env"]
    return env


def test_no_secret_no_webhook() -> None:
    assert not [e for e in _operator_env() if e["name"] == "MLROLLOUT_OPERATOR_WEBHOOK_URL"]


def test_the_url_comes_from_the_named_secret() -> None:
    env = _operator_env("--set", "operator.notifications.webhook.secretName=ml-webhook")
    [url] = [e for e in env if e["name"] == "MLROLLOUT_OPERATOR_WEBHOOK_URL"]
    assert url == {
        "name": "MLROLLOUT_OPERATOR_WEBHOOK_URL",
        "valueFrom": {"secretKeyRef": {"name": "ml-webhook", "key": "url", "optional": False}},
    }
    env = _operator_env(
        "--set", "operator.notifications.webhook.secretName=ml-webhook",
        "--set", "operator.notifications.webhook.key=slack.url",
    )  # fmt: skip
    [url] = [e for e in env if e["name"] == "MLROLLOUT_OPERATOR_WEBHOOK_URL"]
    assert url["valueFrom"]["secretKeyRef"]["key"] == "slack.url"


def test_the_schema_refuses_a_url_instead_of_a_secret_name() -> None:
    for key, value in (
        ("secretName", "https://hooks.example.com/T000/s3cr3t"),
        ("key", "not a key"),
        ("url", "https://hooks.example.com/T000/s3cr3t"),
    ):
        result = helm("template", "rel", str(CHART), *TAG,
                      "--set", f"operator.notifications.webhook.{key}={value}")  # fmt: skip
        assert result.returncode != 0, key
        assert "webhook" in result.stderr, result.stderr
