"""Run the app under uvicorn with a Kubernetes-friendly SIGTERM.

On SIGTERM readiness turns false at once; after `shutdown_delay_seconds` (time for endpoints
to drop the pod) uvicorn stops accepting connections and lets in-flight requests finish.
"""

from __future__ import annotations

import logging
import logging.config
import math
import threading
from types import FrameType

import uvicorn

from .app import create_app
from .logs import logging_config
from .runtime import ModelRuntime
from .settings import ServerSettings

log = logging.getLogger(__name__)


class GracefulServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, runtime: ModelRuntime, delay_s: float) -> None:
        super().__init__(config)
        self._runtime = runtime
        self._delay_s = delay_s
        self._draining = False

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self._draining:  # a second signal: let uvicorn force the exit
            super().handle_exit(sig, frame)
            return
        self._draining = True
        self._runtime.begin_shutdown()
        log.info("shutdown requested", extra={"signal": sig, "drain_delay_s": self._delay_s})
        if self._delay_s <= 0:
            super().handle_exit(sig, frame)
            return
        timer = threading.Timer(self._delay_s, super().handle_exit, args=(sig, frame))
        timer.daemon = True
        timer.start()


def app_factory() -> object:
    """For `workers > 1`: each uvicorn worker process builds its own app from the environment."""
    return create_app(ServerSettings())  # type: ignore[call-arg]


def run(settings: ServerSettings) -> None:
    log_config = logging_config(settings.log_level)
    logging.config.dictConfig(log_config)
    if settings.workers > 1:
        # uvicorn's supervisor owns the signals here; each worker still turns not-ready on exit.
        uvicorn.run(
            "model_server.server:app_factory", factory=True, host=settings.host,
            port=settings.port, workers=settings.workers, log_config=log_config,
        )  # fmt: skip
        return
    app = create_app(settings)
    config = uvicorn.Config(
        app, host=settings.host, port=settings.port, log_config=log_config,
        timeout_graceful_shutdown=math.ceil(settings.drain_timeout_seconds), lifespan="on",
    )  # fmt: skip
    GracefulServer(config, app.state.runtime, settings.shutdown_delay_seconds).run()
