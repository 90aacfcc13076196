"""When kopf may skip listing namespaces: only for exact names, never for its patterns."""

from __future__ import annotations

import pytest

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
