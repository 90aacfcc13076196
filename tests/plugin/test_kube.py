"""The plugin's API adapter, through the real kubernetes client, against a local fake server:
kubeconfig handling, the calls' paths and content types, and the errors a user reads."""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Any

import pytest

from mlrollout.plugin import kube
from mlrollout.tracking_server import free_port
from promotion_operator.status import PromotionPhase

from .apiserver import write_kubeconfig
from .conftest import Cluster
from .objects import concluded, promotion, verifying

PATH = "/apis/mlrollout.dev/v1alpha1/namespaces/ml/modelpromotions"


def promotions(cluster: Cluster, *, all_namespaces: bool = False) -> kube.Promotions:
    connection = kube.connect(str(cluster.kubeconfig), None, None)
    return kube.Promotions(connection, all_namespaces=all_namespaces)


# -- kubeconfig -----------------------------------------------------------------------------
def test_the_namespace_is_the_flag_else_the_contexts_else_default(tmp_path: Path) -> None:
    config = str(write_kubeconfig(tmp_path / "config", "http://127.0.0.1:1"))
    assert kube.connect(config, None, None).namespace == "ml"
    assert kube.connect(config, None, "team-b").namespace == "team-b"
    other = kube.connect(config, "other", None)
    assert (other.namespace, other.context) == ("default", "other")


def test_kubeconfig_comes_from_the_environment_as_a_list_of_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_kubeconfig(tmp_path / "config", "http://127.0.0.1:7")
    monkeypatch.setenv("KUBECONFIG", os.pathsep.join([str(tmp_path / "absent"), str(config)]))
    connection = kube.connect(None, None, None)
    assert connection.api.configuration.host == "http://127.0.0.1:7"


@pytest.mark.parametrize(
    ("setup", "context", "message"),
    [
        (None, None, "no kubeconfig at {path}: pass --kubeconfig or set KUBECONFIG"),
        ("clusters: [", None, "cannot read the kubeconfig {path}"),
        ("valid", "prod", "no context 'prod' in {path} (kubectl config get-contexts"),
    ],
)
def test_a_kubeconfig_problem_says_which_file_and_what_to_do(
    tmp_path: Path, setup: str | None, context: str | None, message: str
) -> None:
    path = tmp_path / "config"
    if setup == "valid":
        write_kubeconfig(path, "http://127.0.0.1:1")
    elif setup is not None:
        path.write_text(setup)
    with pytest.raises(kube.KubeError) as failed:
        kube.connect(str(path), context, None)
    assert message.format(path=path) in str(failed.value)


# -- calls ----------------------------------------------------------------------------------
def test_get_list_and_who_am_i(cluster: Cluster) -> None:
    cluster.api.objects["churn"] = promotion(verifying())
    cluster.api.objects["fraud"] = promotion(verifying(), name="fraud", namespace="team-b")
    api = promotions(cluster)
    assert api.get("churn")["status"]["phase"] == "Verifying"
    items, version = api.listing()
    assert ([i["metadata"]["name"] for i in items], version) == (["churn"], "500")
    everywhere, _ = promotions(cluster, all_namespaces=True).listing()
    assert [i["metadata"]["name"] for i in everywhere] == ["churn", "fraud"]
    assert cluster.state.received[-1].path == "/apis/mlrollout.dev/v1alpha1/modelpromotions"
    assert api.whoami() == "alice"


def test_a_patch_is_a_merge_patch_and_a_stale_one_a_conflict(cluster: Cluster) -> None:
    cluster.api.objects["churn"] = promotion(verifying(), resource_version="10")
    api = promotions(cluster)
    api.patch("churn", {"metadata": {"resourceVersion": "10", "annotations": {"a": "b"}}})
    [patch] = cluster.state.calls("PATCH")
    assert (patch.path, patch.content_type) == (f"{PATH}/churn", "application/merge-patch+json")
    assert cluster.api.objects["churn"]["metadata"]["annotations"] == {"a": "b"}
    with pytest.raises(kube.Conflict):
        api.patch("churn", {"metadata": {"resourceVersion": "10", "annotations": {"a": "c"}}})
    assert cluster.api.objects["churn"]["metadata"]["annotations"] == {"a": "b"}


def test_a_missing_promotion_says_where_it_looked_and_how_to_list(cluster: Cluster) -> None:
    with pytest.raises(kube.NotFound) as failed:
        promotions(cluster).get("nope")
    assert str(failed.value) == (
        "modelpromotion 'nope' not found in namespace 'ml'; kubectl mlrollout get -n ml lists them"
    )


@pytest.mark.parametrize(
    ("verb", "call"),
    [
        ("patch", lambda api: api.patch("churn", {"spec": {"paused": True}})),
        ("get", lambda api: api.get("churn")),
        ("list", lambda api: api.listing()),
    ],
)
def test_no_permission_names_verb_resource_namespace_and_the_check_to_run(
    cluster: Cluster, verb: str, call: Any
) -> None:
    cluster.api.objects["churn"] = promotion(verifying())
    cluster.state.forbidden.add(verb)
    with pytest.raises(kube.KubeError) as failed:
        call(promotions(cluster))
    message = str(failed.value)
    assert message.startswith(f"you may not {verb} modelpromotions.mlrollout.dev in namespace 'ml'")
    assert f'User "alice" cannot {verb} resource' in message  # the API server's own words
    assert message.endswith(f"kubectl auth can-i {verb} modelpromotions.mlrollout.dev -n ml")


def test_no_permission_across_namespaces_suggests_the_all_namespaces_check(
    cluster: Cluster,
) -> None:
    cluster.state.forbidden.add("list")
    with pytest.raises(kube.KubeError, match=r"can-i list modelpromotions\.mlrollout\.dev --all-n"):
        promotions(cluster, all_namespaces=True).listing()


def test_an_unreachable_api_server_says_where_and_what_to_check(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    config = write_kubeconfig(tmp_path / "config", url)
    api = kube.Promotions(kube.connect(str(config), None, None))
    for call in (lambda: api.get("churn"), api.whoami):
        with pytest.raises(kube.KubeError) as failed:
            call()
        message = str(failed.value)
        assert message.startswith(f"cannot reach the Kubernetes API server at {url} (")
        assert "Connection refused" in message
        assert message.endswith("is 'test' the right context? (kubectl cluster-info)")


def test_watch_follows_events_and_lists_again_when_the_stream_ends(cluster: Cluster) -> None:
    cluster.api.objects["churn"] = promotion(verifying())
    promoted = promotion(concluded(PromotionPhase.PROMOTED))
    fraud = promotion(verifying(), name="fraud")
    cluster.state.watches = [[
        {"type": "MODIFIED", "object": promoted},
        {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "600"}}},
        {"type": "ADDED", "object": fraud},
        {"type": "DELETED", "object": promoted},
    ]]  # fmt: skip
    snapshots = list(itertools.islice(promotions(cluster).watch(), 5))
    phases = [[(o["metadata"]["name"], o["status"]["phase"]) for o in s] for s in snapshots]
    assert phases == [
        [("churn", "Verifying")],  # the list
        [("churn", "Promoted")],
        [("churn", "Promoted"), ("fraud", "Verifying")],
        [("fraud", "Verifying")],
        [("churn", "Verifying")],  # the stream ended: listed again
    ]
    [first, *_] = [r for r in cluster.state.received if r.query.get("watch") == ["true"]]
    assert first.query["resourceVersion"] == ["500"]


def test_watch_lists_again_when_its_version_is_gone(cluster: Cluster) -> None:
    cluster.api.objects["churn"] = promotion(verifying())
    gone = {"kind": "Status", "code": 410, "reason": "Expired", "message": "too old"}
    cluster.state.watches = [[{"type": "ERROR", "object": gone}]]
    snapshots = list(itertools.islice(promotions(cluster, all_namespaces=True).watch(), 2))
    assert [len(s) for s in snapshots] == [1, 1]
    lists = [r for r in cluster.state.calls("GET") if "watch" not in r.query]
    assert len(lists) == 2


def test_watch_without_permission_is_reported(cluster: Cluster) -> None:
    cluster.state.forbidden.add("watch")
    stream = promotions(cluster).watch("churn")
    assert next(stream) == []
    with pytest.raises(kube.KubeError, match="you may not watch modelpromotions"):
        next(stream)
