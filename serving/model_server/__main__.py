"""`python -m model_server`: serve the model named by MODEL_SERVER_MODEL_URI."""

from __future__ import annotations

import sys

from pydantic import ValidationError

from .settings import ServerSettings


def main() -> int:
    try:
        settings = ServerSettings()  # type: ignore[call-arg]  # read from the environment
    except ValidationError as exc:
        for err in exc.errors():
            field = "MODEL_SERVER_" + "_".join(str(p) for p in err["loc"]).upper()
            print(f"error: {field}: {err['msg']}", file=sys.stderr)
        print("see `model_server/settings.py` or the README for every setting", file=sys.stderr)
        return 2
    from .server import run

    run(settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
