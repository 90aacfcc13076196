"""The least a request costs on the stack the model server is built on, with no model behind it.

`python -m bench.serving.framework_floor PORT asgi|fastapi` serves one POST route on uvicorn
(httptools, uvloop, one process, as the model server runs): `asgi` reads the body and answers a
fixed JSON from a bare ASGI callable (to any method: a GET is its readiness); `fastapi` does the
same through a FastAPI route that parses the JSON body, and answers GET /ready. No model server on
this stack answers single rows faster than these here, so they bound what "served rows/s against
the in-process rate" can reach at batch size one request.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import uvicorn
from fastapi import FastAPI, Request, Response

_ANSWER = b'{"outputs": []}'
_START = {"type": "http.response.start", "status": 200,
          "headers": [(b"content-type", b"application/json"),
                      (b"content-length", str(len(_ANSWER)).encode())]}  # fmt: skip


async def bare_asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    more = True
    while more:  # the body, as any server must read it
        message = await receive()
        more = message.get("more_body", False)
    await send(_START)
    await send({"type": "http.response.body", "body": _ANSWER})


def fastapi_app() -> FastAPI:
    app = FastAPI()

    @app.get("/ready")
    async def ready() -> Response:
        return Response(_ANSWER, media_type="application/json")

    @app.post("/{path:path}")
    async def answer(request: Request) -> Response:
        json.loads(await request.body())
        return Response(_ANSWER, media_type="application/json")

    return app


if __name__ == "__main__":
    port, kind = int(sys.argv[1]), sys.argv[2]
    app = bare_asgi if kind == "asgi" else fastapi_app()
    uvicorn.run(app, host="127.0.0.1", port=port, http="httptools", loop="uvloop",
                log_level="warning", access_log=False)  # fmt: skip
