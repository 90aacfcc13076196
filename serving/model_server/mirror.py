"""Shadow mirroring, champion side: a share of the answered requests, sent to a shadow in the
background.

A shadow promotion runs the candidate as its own Deployment outside the user-facing Service;
`MODEL_SERVER_SHADOW_URL` names its Service. Most of the time that Service does not exist, so
the poller asking it for a share (GET /mirror) failing is the normal case, and quiet. When it
answers a share, that share of the requests this server answered with `predict` goes, with the
answers, to POST /mirror on the shadow (`shadow.py` compares them there).

The user's request never waits for the shadow and never fails because of it: it only puts its
rows in a bounded queue without waiting (full: the mirror is dropped and counted), and a few
sender tasks on the event loop post from that queue, each on a connection of its own
(`poster.py`: httpx would cost the event loop more than the request itself). Inference itself is
untouched.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from typing import Any, NamedTuple

import httpx
import orjson

from .inputs import FloatArray
from .metrics import MIRROR_OUTCOMES, ServerMetrics
from .poster import Poster, PostFailed
from .profile import SMOKE_HEADER
from .runtime import ModelRuntime, State
from .settings import ServerSettings

log = logging.getLogger(__name__)

_SMOKE = f"{SMOKE_HEADER}: 1\r\n".encode()  # the shadow leaves smoke load out of its counts


class Mirrored(NamedTuple):
    matrix: FloatArray
    predictions: Any
    smoke: bool
    version: str


class Mirror:
    """Polls the shadow for its share and sends it that share of the answered requests."""

    def __init__(
        self, settings: ServerSettings, runtime: ModelRuntime, metrics: ServerMetrics
    ) -> None:
        self.share = 0.0  # 0: mirroring is off
        self._version = ""  # the champion's, read when the model is ready
        self._settings = settings
        self._runtime = runtime
        self._url = f"{settings.shadow_url}/mirror"
        self._queue: asyncio.Queue[Mirrored] = asyncio.Queue(maxsize=settings.mirror_queue)
        self._outcome = {o: metrics.mirror_requests.labels(o) for o in MIRROR_OUTCOMES}
        self._share_gauge = metrics.mirror_share
        self._tasks: list[asyncio.Task[None]] = []
        self._client: httpx.AsyncClient | None = None  # for the polls
        self._posters: list[Poster] = []
        self._failing = False

    def start(self) -> None:
        """The poller and the senders, when a shadow is configured (they act once it is ready)."""
        if self._settings.shadow_url is None:
            return
        timeout = self._settings.mirror_timeout_seconds
        # The shadow is a Service in the cluster: no proxy from the environment carries it.
        self._client = httpx.AsyncClient(timeout=timeout, trust_env=False)
        json = {"content-type": "application/json"}
        self._posters = [
            Poster(self._url, json, timeout) for _ in range(self._settings.mirror_concurrency)
        ]
        self._tasks = [asyncio.create_task(self._poll())]
        self._tasks += [asyncio.create_task(self._send(poster)) for poster in self._posters]
        log.info("mirroring to the shadow whenever it asks", extra={"shadow": self._url})

    async def stop(self) -> None:
        self.share = 0.0
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for poster in self._posters:
            await poster.aclose()
        if self._client is not None:
            await self._client.aclose()

    @property
    def stopped(self) -> bool:
        """No task of ours runs and no connection of ours is open."""
        client_closed = self._client is None or self._client.is_closed
        connected = any(poster.connected for poster in self._posters)
        return client_closed and not connected and all(task.done() for task in self._tasks)

    def offer(self, matrix: FloatArray, predictions: Any, smoke: bool) -> None:
        """Queue one answered request for the shadow, if mirroring is on and it is drawn.
        Called by the user's request: never waits, never raises."""
        if self.share <= 0 or random.random() >= self.share:  # noqa: S311 (sampling, not secrets)
            return
        try:
            self._queue.put_nowait(Mirrored(matrix, predictions, smoke, self._version))
        except asyncio.QueueFull:
            self._outcome["dropped"].inc()

    async def _poll(self) -> None:
        while self._runtime.state is State.LOADING:  # the first poll as soon as it is ready
            await asyncio.sleep(0.05)
        if not self._runtime.ready:
            return  # it failed to load, or the server is stopping: nothing to mirror
        self._version = self._runtime.require_ready().loaded.source.version
        while True:
            if self._runtime.ready:
                self._set_share(*await self._read_share())
            await asyncio.sleep(self._settings.shadow_poll_seconds)

    async def _read_share(self) -> tuple[float, str]:
        """(share, why): the shadow's share in (0, 1], else 0 and the reason."""
        assert self._client is not None
        try:
            answer = await self._client.get(self._url)
        except httpx.HTTPError as exc:  # no shadow Service: a DNS error, the usual case
            return 0.0, f"shadow unreachable: {type(exc).__name__}: {exc}"
        if answer.status_code != httpx.codes.OK:
            return 0.0, f"shadow answered {answer.status_code}"
        with contextlib.suppress(orjson.JSONDecodeError, TypeError, KeyError):
            share = orjson.loads(answer.content)["share"]
            if isinstance(share, int | float) and not isinstance(share, bool) and 0 < share <= 1:
                return float(share), "shadow asks for a share"
        return 0.0, f"shadow answered no share in (0, 1]: {answer.text!r:.80}"

    def _set_share(self, share: float, why: str) -> None:
        if share == self.share:  # logged once per change, not at every poll
            return
        self.share = share
        self._share_gauge.set(share)
        if share:
            log.info("mirroring on", extra={"shadow": self._url, "share": share})
        else:
            log.info("mirroring off", extra={"shadow": self._url, "reason": why})

    async def _send(self, poster: Poster) -> None:
        while True:
            mirrored = await self._queue.get()
            self._outcome[await self._post(poster, mirrored)].inc()

    async def _post(self, poster: Poster, mirrored: Mirrored) -> str:
        try:
            body = orjson.dumps(
                {"inputs": mirrored.matrix, "predictions": mirrored.predictions,
                 "model_version": mirrored.version},
                option=orjson.OPT_SERIALIZE_NUMPY, default=_listed,
            )  # fmt: skip
            status = await poster.post(body, _SMOKE if mirrored.smoke else b"")
        except (PostFailed, TypeError) as exc:  # TypeError: orjson's encode error
            self._note(failed=str(exc))
            return "failed"
        if not 200 <= status < 300:
            self._note(failed=f"shadow answered {status}")
            return "failed"
        self._note(failed=None)
        return "sent"

    def _note(self, failed: str | None) -> None:
        """A log line when sending starts failing and when it works again, not per request."""
        if (failed is not None) != self._failing:
            self._failing = failed is not None
            if failed:
                log.warning("mirrored requests fail", extra={"shadow": self._url, "err": failed})
            else:
                log.info("mirrored requests reach the shadow", extra={"shadow": self._url})


def _listed(value: Any) -> Any:
    """What orjson cannot encode by itself (arrays of strings or objects) as lists."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot send {type(value).__name__} to the shadow")
