"""The FastAPI application: health, Open Inference Protocol v2, `/predict`, `/metrics`, and
shadow mirroring (`/mirror`)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import Receive, Scope, Send

from . import __doc__ as package_doc
from . import inputs, loader, shadow, v2
from .admission import Admission, AdmissionMiddleware
from .errors import ModelNotFound, PayloadTooLarge, install_error_handlers
from .metrics import MetricsMiddleware, ServerMetrics
from .mirror import Mirror
from .openapi import document_request_bodies
from .predictor import OUTPUT_PREDICT, Predictor
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


class ModelServerApp(FastAPI):
    """FastAPI, with overload refused at the door (`Admission.refuses`): a shed request never
    reaches the framework's telemetry, error and metrics layers."""

    admission: Admission | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        admission = self.admission
        if admission is not None and (route := admission.refuses(scope)) is not None:
            await admission.shed_and_count(scope, send, route)
            return
        await super().__call__(scope, receive, send)


def _add_middleware(app: ModelServerApp, settings: ServerSettings, metrics: ServerMetrics) -> None:
    # Added last runs first: the metrics see what the admission middleware sheds.
    admission = Admission(
        settings.max_pending_requests, settings.retry_after_seconds, metrics.shed,
        metrics.observe_request,
    )  # fmt: skip
    metrics.admitted.set_function(lambda: admission.count)
    app.admission = admission
    app.add_middleware(AdmissionMiddleware, admission=admission)
    app.add_middleware(MetricsMiddleware, metrics=metrics)


def _lifespan(
    runtime: ModelRuntime, mirror: Mirror
) -> Callable[[FastAPI], contextlib.AbstractAsyncContextManager[None]]:
    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # Load in the background: liveness answers while a large model downloads.
        loading = asyncio.create_task(runtime.load())
        mirror.start()
        try:
            yield
        finally:
            runtime.begin_shutdown()
            loading.cancel()
            await asyncio.gather(loading, return_exceptions=True)
            await mirror.stop()
            await runtime.close()

    return lifespan


def create_app(settings: ServerSettings, runtime: ModelRuntime | None = None) -> FastAPI:
    metrics = runtime.metrics if runtime is not None else ServerMetrics()
    runtime = runtime or ModelRuntime(settings, metrics)
    name = loader.served_name(settings.model_uri, settings.model_name)
    mirror = Mirror(settings, runtime, metrics)
    app = ModelServerApp(
        title=SERVER_NAME, version=SERVER_VERSION, description=package_doc,
        lifespan=_lifespan(runtime, mirror),
    )  # fmt: skip
    app.state.runtime = runtime
    app.state.metrics = metrics
    app.state.mirror = mirror
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
            v2.output_tensor(o, r)
            for o, r in await _infer(request, runtime, mirror, matrix, wanted)
        ]
        source = ready_model.loaded.source
        response: dict[str, Any] = {
            "model_name": name,
            "model_version": source.version,
            "outputs": outputs,
        }
        if parsed.id is not None:
            response["id"] = parsed.id
        return _answered_by(json_response(response), ready_model)

    @app.post("/predict")
    async def predict(request: Request) -> Response:
        ready_model = runtime.require_ready()
        payload = await inputs.parse_json_body(await read_body(request, settings.max_request_bytes))
        matrix = inputs.matrix_from_rows(inputs.instances_of(payload), ready_model.spec)
        [(_, predictions)] = await _infer(request, runtime, mirror, matrix, [OUTPUT_PREDICT])
        return _answered_by(json_response({"predictions": predictions}), ready_model)

    _add_observation_routes(app, runtime, metrics)
    _add_mirror_routes(app, settings, runtime)
    return app


# Which model version answered: a client behind a canary's Service (or a test) can tell.
VERSION_HEADER = "x-model-version"


def _answered_by(response: Response, ready_model: Predictor) -> Response:
    if ready_model.loaded.source.version:
        response.headers[VERSION_HEADER] = ready_model.loaded.source.version
    return response


async def _infer(
    request: Request, runtime: ModelRuntime, mirror: Mirror, matrix: Any, outputs: list[str]
) -> list[tuple[str, Any]]:
    """(output, result) for each of ``outputs``; the request counted once in the live profile,
    if it is real traffic (the operator's smoke load is not), and offered to the shadow if its
    `predict` output was computed (the shadow compares predictions)."""
    results = [(output, await runtime.infer(matrix, output)) for output in outputs]
    predictions = dict(results).get(OUTPUT_PREDICT)
    smoke = SMOKE_HEADER in request.headers
    if not smoke:
        runtime.observe(matrix, predictions)
    if predictions is not None:
        mirror.offer(matrix, predictions, smoke)
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


def _add_mirror_routes(app: FastAPI, settings: ServerSettings, runtime: ModelRuntime) -> None:
    """A shadow's side of mirroring: the share champions should mirror here, and the mirrored
    requests. A server that is no shadow answers 404 to both."""
    comparison = shadow.Comparison(runtime.metrics, settings.agreement_tolerance)

    def require_shadow() -> None:
        if settings.mirror_share <= 0:
            raise ModelNotFound(
                "this server is not a shadow (MODEL_SERVER_MIRROR_SHARE is 0): it takes no "
                "mirrored requests"
            )

    @app.get("/mirror")
    async def mirror_share() -> Response:
        """The share of their requests champions should mirror here (0 < share <= 1)."""
        require_shadow()
        runtime.require_ready()
        return json_response({"share": settings.mirror_share / 100})

    @app.post("/mirror")
    async def mirrored(request: Request) -> Response:
        """Rows a champion answered, with its predictions: predicted here and compared."""
        require_shadow()
        ready_model = runtime.require_ready()
        payload = await inputs.parse_json_body(await read_body(request, settings.max_request_bytes))
        matrix, champion = shadow.parse_mirrored(payload, ready_model.spec)
        candidate = await runtime.infer(matrix, OUTPUT_PREDICT)
        real = SMOKE_HEADER not in request.headers
        agreed = comparison.compare(champion, candidate, count=real)
        if real:
            runtime.observe(matrix, candidate)
        return json_response({"rows": len(champion), "agreed": agreed})
