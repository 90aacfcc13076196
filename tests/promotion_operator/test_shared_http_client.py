"""Every promotion's MLflow calls share one HTTP client, and nothing of one leaks into another."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import ClassVar

import pytest

from promotion_operator.registry import Credentials, Registry, SharedHttp

from .http_stub import StubHandler, serving

_VERSION = {"model_version": {"name": "m", "version": "1", "run_id": "r"}}


class _Recorder(StubHandler):
    """Answers a model version, sets a session cookie, and records what each request carried."""

    seen: ClassVar[list[dict[str, str | None]]] = []

    def do_GET(self) -> None:
        self.seen.append(
            {
                "authorization": self.headers.get("Authorization"),
                "cookie": self.headers.get("Cookie"),
            }
        )
        body = json.dumps(_VERSION).encode()
        self.answer(
            200, "application/json", body, ("Set-Cookie", "session=first-callers-session; Path=/")
        )


@pytest.fixture
def server() -> Iterator[str]:
    _Recorder.seen = []
    with serving(_Recorder) as url:
        yield url


def test_credentials_go_per_request_and_no_cookie_is_kept(server: str) -> None:
    async def scenario() -> None:
        http = SharedHttp(slots=2)
        alice = Registry(server, Credentials(username="alice", password="a-pass"), 5, http=http)
        bob = Registry(server, Credentials(token="bobs-token"), 5, http=http)
        anonymous = Registry(server, None, 5, http=http)
        for registry in (alice, bob, anonymous, alice):
            assert (await registry.model_version("m", "1")).run_id == "r"
        await http.aclose()

    asyncio.run(scenario())
    seen = _Recorder.seen
    assert [s["authorization"] for s in seen] == [
        "Basic YWxpY2U6YS1wYXNz",
        "Bearer bobs-token",
        None,
        "Basic YWxpY2U6YS1wYXNz",
    ]
    assert [s["cookie"] for s in seen] == [None] * 4  # the session cookie was never sent back
