"""The FastAPI application: health, Open Inference Protocol v2, `/predict`, `/metrics`."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import orjson
from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from . import __doc__ as package_doc
from . import inputs, loader, v2
from .admission import AdmissionMiddleware, Admitted
from .errors import ModelNotFound, PayloadTooLarge, install_error_handlers
from .metrics import MetricsMiddleware, ServerMetrics
from .openapi import document_request_bodies
from .predictor import OUTPUT_PREDICT
from .profile import SMOKE_HEADER
from .runtime import ModelRuntime
from .settings import ServerSettings

SERVER_NAME = "mlrollout-model-server"
SERVER_VERSION = "0.1.0"


def json_response(content: Any, status_code: int = 200) -> Response:
    body = orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY)
    return Response(body, status_code=status_code, media_type="application/json")


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it is known to exceed ``limit``."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"request body of {declared} bytes exceeds the {limit}-byte limit")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise PayloadTooLarge(f"request body exceeds the {limit}-byte limit")
    return bytes(body)


def _add_middleware(app: FastAPI, settings: ServerSettings, metrics: ServerMetrics) -> None:
    # Added last runs first: the metrics see shed requests too.
    admitted = Admitted()
    metrics.admitted.set_function(lambda: admitted.count)
    app.add_middleware(
        AdmissionMiddleware, limit=settings.max_pending_requests,
        retry_after_s=settings.retry_after_seconds, admitted=admitted, shed=metrics.shed,
    )  # fmt: skip
    app.add_middleware(MetricsMiddleware, metrics=metrics)


def create_app(settings: ServerSettings, runtime: ModelRuntime | None = None) -> FastAPI:
    metrics = runtime.metrics if runtime is not None else ServerMetrics()
    runtime = runtime or ModelRuntime(settings, metrics)
    name = loader.served_name(settings.model_uri, settings.model_name)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # Load in the background: liveness answers while a large model downloads.
        loading = asyncio.create_task(runtime.load())
        try:
            yield
        finally:
            runtime.begin_shutdown()
            loading.cancel()
            await asyncio.gather(loading, return_exceptions=True)
            await runtime.close()

    app = FastAPI(
        title=SERVER_NAME, version=SERVER_VERSION, description=package_doc, lifespan=lifespan
    )
    app.state.runtime = runtime
    app.state.metrics = metrics
    install_error_handlers(app)
    document_request_bodies(app, name)
    _add_middleware(app, settings, metrics)

    def check_name(model_name: str) -> None:
        if model_name != name:
            raise ModelNotFound(
                f"model {model_name!r} is not served here; this server serves {name!r}"
            )

    def readiness() -> Response:
        if runtime.ready:
            return json_response({"ready": True})
        # `state` tells a waiting client (the operator) "still loading" from "gave up".
        body = {"ready": False, "state": runtime.state.value, "reason": runtime.reason}
        return json_response(body, 503)

    @app.get("/v2/health/live")
    async def live() -> Response:
        return json_response({"live": True})

    @app.get("/v2/health/ready")
    async def ready() -> Response:
        return readiness()

    @app.get("/v2")
    async def server_metadata() -> Response:
        return json_response({"name": SERVER_NAME, "version": SERVER_VERSION, "extensions": []})

    @app.get("/v2/models/{model_name}/ready")
    async def model_ready(model_name: str) -> Response:
        check_name(model_name)
        return readiness()

    @app.get("/v2/models/{model_name}")
    async def model_metadata(model_name: str) -> Response:
        check_name(model_name)
        return json_response(v2.model_metadata(runtime.require_ready()))

    @app.post("/v2/models/{model_name}/infer")
    async def infer(model_name: str, request: Request) -> Response:
        check_name(model_name)
        ready_model = runtime.require_ready()
        payload = await inputs.parse_json_body(await read_body(request, settings.max_request_bytes))
        parsed = v2.parse_request(payload)
        matrix = v2.matrix_from_request(parsed, ready_model.spec)
        wanted = [o.name for o in parsed.outputs or []] or [OUTPUT_PREDICT]
        outputs = [
            v2.output_tensor(o, r) for o, r in await _infer(request, runtime, matrix, wanted)
        ]
        source = ready_model.loaded.source
        response: dict[str, Any] = {
            "model_name": name,
            "model_version": source.version,
            "outputs": outputs,
        }
        if parsed.id is not None:
            response["id"] = parsed.id
        return json_response(response)

    @app.post("/predict")
    async def predict(request: Request) -> Response:
        ready_model = runtime.require_ready()
        payload = await inputs.parse_json_body(await read_body(request, settings.max_request_bytes))
        matrix = inputs.matrix_from_rows(inputs.instances_of(payload), ready_model.spec)
        [(_, predictions)] = await _infer(request, runtime, matrix, [OUTPUT_PREDICT])
        return json_response({"predictions": predictions})

    _add_observation_routes(app, runtime, metrics)
    return app


async def _infer(
    request: Request, runtime: ModelRuntime, matrix: Any, outputs: list[str]
) -> list[tuple[str, Any]]:
    """(output, result) for each of ``outputs``; the request counted once in the live profile,
    if it is real traffic (the operator's smoke load is not)."""
    results = [(output, await runtime.infer(matrix, output)) for output in outputs]
    if SMOKE_HEADER not in request.headers:
        runtime.observe(matrix, dict(results).get(OUTPUT_PREDICT))
    return results


def _add_observation_routes(app: FastAPI, runtime: ModelRuntime, metrics: ServerMetrics) -> None:
    """What the operator reads from a pod while it verifies: metrics, and the live profile."""

    @app.get("/metrics")
    async def prometheus_metrics() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/profile")
    async def live_profile() -> Response:
        """The reference profile and the live counts in its bins (verification's drift gates)."""
        runtime.require_ready()
        if runtime.profile is None:
            raise ModelNotFound(
                "this model was logged without a reference profile (mlrollout train logs one), "
                "or its features are not named: no live profile"
            )
        return json_response(
            {"reference": runtime.profile.reference, "live": runtime.profile.snapshot()}
        )
