"""An in-memory stand-in for the API calls of a control (get, merge patch, who am I).

It keeps what the real API server guarantees and the controls rely on: a merge patch carrying
a stale `metadata.resourceVersion` is refused with a conflict, and every write moves the
resourceVersion on. `on_get` lets a test play the operator between reads."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mlrollout.plugin.kube import Conflict, NotFound


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    merged = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge_patch(merged.get(key), value)
    return merged


@dataclass
class FakeApi:
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)  # name → object
    user: str = "alice"
    on_get: Callable[[dict[str, Any]], None] | None = None  # the "operator", between reads
    patches: list[dict[str, Any]] = field(default_factory=list)  # every patch body received
    conflicts: int = 0  # the next patches refused as if someone wrote first

    def get(self, name: str) -> dict[str, Any]:
        if name not in self.objects:
            raise NotFound(f"modelpromotion {name!r} not found")
        if self.on_get is not None:
            self.on_get(self.objects[name])
        return copy.deepcopy(self.objects[name])

    def patch(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        self.patches.append(copy.deepcopy(body))
        obj = self.objects[name]
        wanted = (body.get("metadata") or {}).get("resourceVersion")
        if self.conflicts:
            self.conflicts -= 1
            self.bump(obj)
            raise Conflict("changed meanwhile")
        if wanted is not None and wanted != obj["metadata"]["resourceVersion"]:
            raise Conflict("changed meanwhile")
        self.objects[name] = merge_patch(obj, body)
        self.bump(self.objects[name])
        return copy.deepcopy(self.objects[name])

    def whoami(self) -> str:
        return self.user

    @staticmethod
    def bump(obj: dict[str, Any]) -> None:
        metadata = obj["metadata"]
        metadata["resourceVersion"] = str(int(metadata["resourceVersion"]) + 1)


@dataclass
class FakeClock:
    """Time that moves only when slept; ``on_sleep`` runs after each sleep."""

    t: float = 0.0
    slept: list[float] = field(default_factory=list)
    on_sleep: Callable[[], None] | None = None

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += seconds
        if self.on_sleep is not None:
            self.on_sleep()
