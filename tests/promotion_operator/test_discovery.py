"""When kopf may skip listing namespaces (exact names, never its patterns), and the wait for
the CRD that a namespaced operator does at start-up instead."""

from __future__ import annotations

import asyncio

import pytest

from promotion_operator import discovery
from promotion_operator.discovery import exact_names


@pytest.mark.parametrize(
    ("namespaces", "exact"),
    [
        (["ml"], True),
        (["ml", "team-a"], True),
        ([], False),  # cluster-wide: kopf lists nothing namespaced anyway
        (["team-*"], False),
        (["ml", "!kube-system"], False),
        (["team-[ab]"], False),
        (["team-?"], False),
    ],
)
def test_only_plain_names_are_exact(namespaces: list[str], exact: bool) -> None:
    assert exact_names(namespaces) is exact


def test_start_up_waits_for_the_crd_then_goes_on(monkeypatch: pytest.MonkeyPatch) -> None:
    answers = iter([False, False, True])
    monkeypatch.setattr(discovery, "_established", lambda: next(answers))
    asyncio.run(discovery.wait_until_served(timeout_s=5, poll_s=0.01))
    assert next(answers, None) is None  # asked until it was established, and no more


def test_a_crd_that_never_comes_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(discovery, "_established", lambda: False)
    with pytest.raises(discovery.CrdNotServed, match=r"kubectl apply -f k8s/crds/"):
        asyncio.run(discovery.wait_until_served(timeout_s=0.05, poll_s=0.01))
