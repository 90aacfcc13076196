"""`python -m promotion_operator`: run the operator with the namespaces from its settings."""

from __future__ import annotations

import asyncio

import kopf

from . import handlers


def main() -> None:
    settings = handlers.SETTINGS
    kopf.configure(log_format=kopf.LogFormat.JSON)  # one JSON object per line, extras included
    liveness = (
        f"http://0.0.0.0:{settings.liveness_port}/healthz" if settings.liveness_port else None
    )
    asyncio.run(
        kopf.operator(
            clusterwide=not settings.namespaces,
            namespaces=settings.namespaces,
            liveness_endpoint=liveness,
            standalone=True,
        )
    )


if __name__ == "__main__":
    main()
