"""Errors and their HTTP mapping, in one place: clients get a status and a reason, never a trace.

Not ready → 503, bad input → 400/413/422, unknown model → 404, model failure → 500 with a short
message (the traceback goes to the log only).
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)


class ModelServerError(Exception):
    """Base class: an error with the HTTP status it maps to and a message safe to return."""

    status_code = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(ModelServerError):
    status_code = 400


class PayloadTooLarge(ModelServerError):
    status_code = 413


class ModelNotFound(ModelServerError):
    status_code = 404


class ModelNotReady(ModelServerError):
    status_code = 503


class InferenceFailed(ModelServerError):
    status_code = 500


def error_response(status_code: int, message: str) -> JSONResponse:
    return JSONResponse(status_code=status_code, content={"error": message})


async def _model_server_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ModelServerError)
    return error_response(exc.status_code, exc.message)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return error_response(422, describe_validation_errors(exc.errors()))


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    return error_response(exc.status_code, str(exc.detail))


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error", exc_info=exc, extra={"path": request.url.path})
    return error_response(500, "internal server error; see the server log")


def describe_validation_errors(errors: object) -> str:
    """pydantic's error list as one line: `inputs.0.shape: Field required; ...`."""
    parts: list[str] = []
    if isinstance(errors, list | tuple):
        for err in errors:
            if isinstance(err, dict):
                loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
                parts.append(f"{loc or 'body'}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ModelServerError, _model_server_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
