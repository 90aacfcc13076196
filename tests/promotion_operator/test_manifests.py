"""The serving objects the operator builds: what the model server reads from them, its shutdown
budget, and what a spec may not override."""

from __future__ import annotations

from typing import Any

from model_server.settings import ServerSettings
from promotion_operator import manifests
from promotion_operator.spec import ModelPromotionSpec, parse_spec

from .fakes import base_spec


def deployment(**overrides: Any) -> dict[str, Any]:
    return manifests.build_deployment("churn", "ml", parse_spec(base_spec(**overrides)), "7")


def env_of(obj: dict[str, Any]) -> dict[str, Any]:
    container = obj["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def test_every_model_server_variable_the_operator_sets_is_a_setting() -> None:
    """A misspelt MODEL_SERVER_* name would be ignored by the server without a word."""
    fields = {f"MODEL_SERVER_{name.upper()}" for name in ServerSettings.model_fields}
    ours = {name for name in env_of(deployment()) if name.startswith("MODEL_SERVER_")}
    assert ours <= fields, ours - fields


def test_the_shutdown_budget_fits_the_grace_period() -> None:
    """Not ready for the delay, then in-flight requests drain: all before the kubelet kills."""
    obj = deployment()
    env = env_of(obj)
    budget = float(env["MODEL_SERVER_SHUTDOWN_DELAY_SECONDS"]) + float(
        env["MODEL_SERVER_DRAIN_TIMEOUT_SECONDS"]
    )
    assert budget < obj["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]


def test_serving_env_adds_but_never_redirects_the_model() -> None:
    serving = {"image": "localhost/mlrollout-model-server:test", "replicas": 1, "env": [
        {"name": "MODEL_SERVER_MODEL_URI", "value": "models:/someone-else/1"},
        {"name": "MODEL_SERVER_LOG_LEVEL", "value": "debug"},
    ]}  # fmt: skip
    env = env_of(deployment(serving=serving))
    assert env["MODEL_SERVER_MODEL_URI"] == "models:/churn-classifier/7"
    assert env["MODEL_SERVER_LOG_LEVEL"] == "debug"
    container = deployment(serving=serving)["spec"]["template"]["spec"]["containers"][0]
    assert [e["name"] for e in container["env"]].count("MODEL_SERVER_MODEL_URI") == 1


def test_two_replicas_or_more_get_a_disruption_budget() -> None:
    def pdb(serving: dict[str, Any]) -> dict[str, Any] | None:
        spec = parse_spec(base_spec(serving={"image": "i", **serving}))
        return manifests.build_pdb("churn", "ml", spec)

    assert pdb({"replicas": 1}) is None  # a budget would block a drain for ever
    two = pdb({"replicas": 2})
    assert two is not None
    assert two["spec"]["minAvailable"] == 1
    assert two["spec"]["selector"]["matchLabels"] == manifests.selector_labels("churn")
    assert pdb({"autoscaling": {"minReplicas": 2, "maxReplicas": 4}}) is not None
    assert pdb({"replicas": 5, "autoscaling": {"minReplicas": 1, "maxReplicas": 4}}) is None


def scaled(autoscaling: dict[str, Any]) -> ModelPromotionSpec:
    return parse_spec(base_spec(serving={"image": "server:1", "autoscaling": autoscaling}))


def test_the_hpa_scales_down_after_the_window_the_spec_asks_for() -> None:
    scaling = {"minReplicas": 1, "maxReplicas": 4, "scaleDownStabilizationSeconds": 20}
    hpa = manifests.build_hpa("churn", "ml", scaled(scaling))
    assert hpa is not None
    assert hpa["spec"]["behavior"] == {"scaleDown": {"stabilizationWindowSeconds": 20}}
    assert hpa["spec"]["maxReplicas"] == 4


def test_without_a_window_the_hpa_keeps_kubernetes_defaults() -> None:
    hpa = manifests.build_hpa("churn", "ml", scaled({}))
    assert hpa is not None
    assert "behavior" not in hpa["spec"]


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def test_a_shadow_is_out_of_the_service_and_a_canary_is_in_it() -> None:
    spec = parse_spec(base_spec(rollout={"strategy": "shadow", "shadow": {"mirrorPercent": 40}}))
    service = manifests.build_service("churn", "ml", spec)["spec"]["selector"]
    stable = manifests.build_deployment("churn", "ml", spec, "1")
    shadow = manifests.build_deployment("churn", "ml", spec, "2", "shadow", 2)
    canary = manifests.build_deployment("churn", "ml", spec, "2", "canary", 1)
    shadow_service = manifests.build_shadow_service("churn", "ml", spec)
    pods = {d["metadata"]["name"]: d["spec"]["template"]["metadata"]["labels"]
            for d in (stable, shadow, canary)}  # fmt: skip
    assert set(pods) == {"churn", "churn-shadow", "churn-canary"}
    assert _selects(service, pods["churn"])
    assert _selects(service, pods["churn-canary"])
    assert not _selects(service, pods["churn-shadow"])
    assert not _selects(stable["spec"]["selector"]["matchLabels"], pods["churn-shadow"])
    assert _selects(shadow_service["spec"]["selector"], pods["churn-shadow"])
    assert not _selects(shadow_service["spec"]["selector"], pods["churn"])
    assert shadow_service["metadata"]["name"] == "churn-shadow"
    assert (shadow["spec"]["replicas"], canary["spec"]["replicas"]) == (2, 1)
    # Only the stable side mirrors, and only to the shadow's Service; the shadow takes 40%.
    assert env_of(stable)["MODEL_SERVER_SHADOW_URL"] == "http://churn-shadow.ml.svc"
    assert "MODEL_SERVER_SHADOW_URL" not in env_of(shadow)
    assert "MODEL_SERVER_SHADOW_URL" not in env_of(canary)
    assert env_of(shadow)["MODEL_SERVER_MIRROR_SHARE"] == "40"
    assert "MODEL_SERVER_MIRROR_SHARE" not in env_of(stable)


def test_the_stable_pods_are_the_same_whatever_the_strategy() -> None:
    """A template that changed with the strategy would restart the champion's pods just as a
    shadow or canary starts beside them."""
    templates = [
        manifests.build_deployment(
            "churn", "ml", parse_spec(base_spec(rollout={"strategy": strategy})), "1"
        )["spec"]["template"]
        for strategy in ("replace", "shadow", "canary")
    ]
    assert templates[0] == templates[1] == templates[2]
    assert manifests.ROLE_LABEL not in templates[0]["metadata"]["labels"]


def test_a_node_pool_reaches_every_pod_the_operator_makes() -> None:
    """nodeSelector and tolerations go as written to the main, shadow and canary pods."""
    serving = {"image": "i", "nodeSelector": {"pool": "gpu"}, "tolerations": [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
        {"key": "spot", "operator": "Equal", "value": "yes", "effect": "NoExecute",
         "tolerationSeconds": 30},
    ]}  # fmt: skip
    spec = parse_spec(base_spec(serving=serving))
    for role in ("stable", "shadow", "canary"):
        pod = manifests.build_deployment("churn", "ml", spec, "7", role)["spec"]["template"]
        assert pod["spec"]["nodeSelector"] == {"pool": "gpu"}
        assert pod["spec"]["tolerations"] == serving["tolerations"]
    plain = deployment()["spec"]["template"]["spec"]
    assert "nodeSelector" not in plain
    assert "tolerations" not in plain
