"""Pure builders for the serving target's child objects: Deployment, Service, HPA.

No I/O here: the reconciler adopts what these return (owner references) and applies it
server-side. `replicas` is left out when an HPA owns it, and the pod template carries the model
version so each version gets its own ReplicaSet while the selector stays the same.

A shadow or canary attempt adds a second Deployment beside the main ("stable") one, by role:
the canary's pods carry the Service's selector labels (they get a share of its traffic by their
number), the shadow's do not (only the champion's mirrored requests reach them, through their
own Service, which every stable pod is told about in `MODEL_SERVER_SHADOW_URL`).
"""

from __future__ import annotations

import math
from typing import Any, Literal

from .spec import ModelPromotionSpec

PROMOTION_LABEL = "mlrollout.dev/promotion"
VERSION_LABEL = "mlrollout.dev/model-version"
ROLE_LABEL = "mlrollout.dev/role"
Role = Literal["stable", "shadow", "canary"]
SERVER_NAME = "mlrollout-model-server"
MODEL_DOWNLOAD_DIR = "/tmp"  # noqa: S108 - an emptyDir; the root filesystem is read-only
PROBE_PERIOD_S = 2
# On SIGTERM the model server stays up, not ready, while endpoints drop the pod, then lets
# in-flight requests finish; the kubelet's grace period covers both with a margin.
SHUTDOWN_DELAY_S = 5
DRAIN_TIMEOUT_S = 20
TERMINATION_GRACE_S = SHUTDOWN_DELAY_S + DRAIN_TIMEOUT_S + 5


def selector_labels(name: str) -> dict[str, str]:
    """Stable across versions: a Deployment's selector is immutable."""
    return {"app.kubernetes.io/instance": name, PROMOTION_LABEL: name}


def labels(name: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": SERVER_NAME,
        "app.kubernetes.io/part-of": "mlrollout",
        "app.kubernetes.io/managed-by": "mlrollout-operator",
        **selector_labels(name),
    }


def _metadata(name: str, namespace: str) -> dict[str, Any]:
    return {"name": name, "namespace": namespace, "labels": labels(name)}


def deployment_name(name: str, role: Role) -> str:
    return name if role == "stable" else f"{name}-{role}"


def shadow_url(name: str, namespace: str) -> str:
    """The shadow's Service, as the champion's pods reach it (it exists only during a shadow)."""
    return f"http://{deployment_name(name, 'shadow')}.{namespace}.svc"


def pod_selector(name: str, role: Role) -> dict[str, str]:
    """A stable pod is selected by the Service; a canary pod too (it is meant to be, and the
    stable Deployment never adopts it: ReplicaSets are claimed by owner); a shadow pod lacks the
    instance label, so neither the Service nor the stable Deployment ever select it."""
    if role == "stable":
        return selector_labels(name)
    if role == "canary":
        return {**selector_labels(name), ROLE_LABEL: role}
    return {PROMOTION_LABEL: name, ROLE_LABEL: role}


def _pod_labels(name: str, role: Role, version: str) -> dict[str, str]:
    common = {k: v for k, v in labels(name).items() if k not in selector_labels(name)}
    return {**common, **pod_selector(name, role), VERSION_LABEL: version}


def _role_env(name: str, namespace: str, spec: ModelPromotionSpec, role: Role) -> list[Any]:
    if role == "stable":  # told where a shadow would be; it mirrors only while one answers
        return [{"name": "MODEL_SERVER_SHADOW_URL", "value": shadow_url(name, namespace)}]
    if role == "shadow":
        shadow = spec.rollout.shadow
        tolerance = f"{shadow.agreement_tolerance:g}"
        return [
            {"name": "MODEL_SERVER_MIRROR_SHARE", "value": f"{shadow.mirror_percent:g}"},
            {"name": "MODEL_SERVER_AGREEMENT_TOLERANCE", "value": tolerance},
        ]
    return []


def _env(spec: ModelPromotionSpec, version: str, role_env: list[Any]) -> list[dict[str, Any]]:
    model = spec.model.name
    env: list[dict[str, Any]] = [
        {"name": "MODEL_SERVER_MODEL_URI", "value": f"models:/{model}/{version}"},
        {"name": "MODEL_SERVER_MODEL_NAME", "value": model},
        {"name": "MODEL_SERVER_PORT", "value": str(spec.serving.port)},
        {"name": "MODEL_SERVER_SHUTDOWN_DELAY_SECONDS", "value": str(SHUTDOWN_DELAY_S)},
        {"name": "MODEL_SERVER_DRAIN_TIMEOUT_SECONDS", "value": str(DRAIN_TIMEOUT_S)},
        {"name": "MLFLOW_TRACKING_URI", "value": spec.mlflow.tracking_uri},
        *role_env,
    ]
    ref = spec.mlflow.credentials_secret_ref
    if ref is not None:
        for var, key in (
            ("MLFLOW_TRACKING_USERNAME", ref.username_key),
            ("MLFLOW_TRACKING_PASSWORD", ref.password_key),
            ("MLFLOW_TRACKING_TOKEN", ref.token_key),
        ):
            source = {"name": ref.name, "key": key, "optional": True}
            env.append({"name": var, "valueFrom": {"secretKeyRef": source}})
    # The operator's own variables win: `serving.env` may add, never redirect (the CRD refuses
    # these names at apply; this keeps an older stored object from doing it).
    reserved = {item["name"] for item in env}
    return env + [dict(item) for item in spec.serving.env if item.get("name") not in reserved]


def _probe(path: str, period_s: int, failures: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": "http"},
        "periodSeconds": period_s,
        "failureThreshold": failures,
        "timeoutSeconds": 2,
    }


def build_deployment(
    name: str,
    namespace: str,
    spec: ModelPromotionSpec,
    version: str,
    role: Role = "stable",
    replicas: int | None = None,
) -> dict[str, Any]:
    """The main Deployment (`stable`), or a shadow's or canary's beside it with ``replicas``."""
    serving, deadline = spec.serving, spec.rollout.progress_deadline_seconds
    pod_labels = _pod_labels(name, role, version)
    container = {
        "name": "model-server",
        "image": serving.image,
        "imagePullPolicy": serving.image_pull_policy,
        "ports": [{"name": "http", "containerPort": serving.port, "protocol": "TCP"}],
        "env": _env(spec, version, _role_env(name, namespace, spec, role)),
        "resources": dict(serving.resources),
        "readinessProbe": _probe("/v2/health/ready", PROBE_PERIOD_S, 2),
        "livenessProbe": _probe("/v2/health/live", 10, 3),
        # Slow model loads are tolerated up to the rollout's progress deadline.
        "startupProbe": _probe("/v2/health/ready", PROBE_PERIOD_S, math.ceil(deadline / 2)),
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [{"name": "tmp", "mountPath": MODEL_DOWNLOAD_DIR}],
    }
    pod_spec: dict[str, Any] = {
        "containers": [container],
        "automountServiceAccountToken": False,
        "terminationGracePeriodSeconds": TERMINATION_GRACE_S,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 10001,
            "runAsGroup": 10001,
            "fsGroup": 10001,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "volumes": [{"name": "tmp", "emptyDir": {}}],
    }
    if serving.service_account_name:
        pod_spec["serviceAccountName"] = serving.service_account_name
    if serving.node_selector:
        pod_spec["nodeSelector"] = dict(serving.node_selector)
    if serving.tolerations:
        pod_spec["tolerations"] = [
            t.model_dump(by_alias=True, exclude_none=True) for t in serving.tolerations
        ]
    deployment_spec: dict[str, Any] = {
        "selector": {"matchLabels": pod_selector(name, role)},
        "progressDeadlineSeconds": deadline,
        "revisionHistoryLimit": 5,
        "strategy": {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
        },
        "template": {
            "metadata": {
                "labels": pod_labels,
                "annotations": {
                    VERSION_LABEL: version,
                    "prometheus.io/scrape": "true",
                    "prometheus.io/port": str(serving.port),
                    "prometheus.io/path": "/metrics",
                },
            },
            "spec": pod_spec,
        },
    }
    if role != "stable":
        deployment_spec["replicas"] = replicas if replicas is not None else serving.replicas
    elif serving.autoscaling is None:
        deployment_spec["replicas"] = serving.replicas
    metadata = _metadata(deployment_name(name, role), namespace)
    if role != "stable":
        metadata["labels"][ROLE_LABEL] = role
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": metadata,
            "spec": deployment_spec}  # fmt: skip


def build_shadow_service(name: str, namespace: str, spec: ModelPromotionSpec) -> dict[str, Any]:
    """The shadow's own Service: what `MODEL_SERVER_SHADOW_URL` names; users never reach it."""
    service = build_service(name, namespace, spec)
    service["metadata"] = _metadata(deployment_name(name, "shadow"), namespace)
    service["metadata"]["labels"][ROLE_LABEL] = "shadow"
    service["spec"]["selector"] = pod_selector(name, "shadow")
    return service


def build_service(name: str, namespace: str, spec: ModelPromotionSpec) -> dict[str, Any]:
    port = {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(name, namespace),
        "spec": {"type": "ClusterIP", "selector": selector_labels(name), "ports": [port]},
    }


def build_hpa(name: str, namespace: str, spec: ModelPromotionSpec) -> dict[str, Any] | None:
    scaling = spec.serving.autoscaling
    if scaling is None:
        return None
    target = {
        "type": "Utilization",
        "averageUtilization": scaling.target_cpu_utilization_percentage,
    }
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": _metadata(name, namespace),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": scaling.min_replicas,
            "maxReplicas": scaling.max_replicas,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": target}}],
            **_behavior(scaling.scale_down_stabilization_seconds),
        },
    }


def _behavior(scale_down_window_s: int | None) -> dict[str, Any]:
    if scale_down_window_s is None:
        return {}
    return {"behavior": {"scaleDown": {"stabilizationWindowSeconds": scale_down_window_s}}}


def build_pdb(name: str, namespace: str, spec: ModelPromotionSpec) -> dict[str, Any] | None:
    """Voluntary disruptions (a node drain, evictions) never take every replica at once.

    Only with two replicas or more: for one, a PDB would block a drain for ever, and a single
    replica cannot survive a drain anyway.
    """
    scaling = spec.serving.autoscaling
    fewest = scaling.min_replicas if scaling is not None else spec.serving.replicas
    if fewest < 2:
        return None
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": _metadata(name, namespace),
        "spec": {"selector": {"matchLabels": selector_labels(name)}, "minAvailable": 1},
    }
