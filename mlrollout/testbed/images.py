"""The images `make images` builds for this tree, by their role in the system."""

from __future__ import annotations

import os
import subprocess

from .tools import ROOT

# role → image name (`hack/images.sh names` prints localhost/<name>:<tag> for each)
ROLES = {
    "model-server": "mlrollout-model-server",
    "operator": "mlrollout-operator",
    "mlflow": "mlrollout-mlflow",
    "postgresql": "mlrollout-postgresql",
}


def image_names() -> dict[str, str]:
    """role → full image name; MLROLLOUT_<ROLE>_IMAGE (e.g. MLROLLOUT_MODEL_SERVER_IMAGE)
    overrides one, for images built elsewhere."""
    printed = subprocess.run(
        ["bash", str(ROOT / "hack" / "images.sh"), "names"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    by_name = {image.split("/", 1)[1].rsplit(":", 1)[0]: image for image in printed}
    return {
        role: os.environ.get(f"MLROLLOUT_{role.upper().replace('-', '_')}_IMAGE", by_name[name])
        for role, name in ROLES.items()
    }


def tag_of(image: str) -> str:
    return image.rsplit(":", 1)[1]
