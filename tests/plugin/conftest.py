"""A fake API server over an in-memory store, and a kubeconfig that points at it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from .apiserver import ApiServerState, serving, write_kubeconfig
from .fakes import FakeApi


@dataclass(frozen=True)
class Cluster:
    state: ApiServerState
    url: str
    kubeconfig: Path

    @property
    def api(self) -> FakeApi:
        return self.state.api


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    state = ApiServerState(FakeApi())
    with serving(state) as url:
        yield Cluster(state, url, write_kubeconfig(tmp_path / "kubeconfig", url))
