"""Runs argocd/health.lua the way Argo CD does, so tests can judge any ModelPromotion with it.

Argo CD (util/lua/lua.go) runs a health script in gopher-lua, a Lua 5.1, with only the base
functions, `table`, and a safe `os` (no `string`, `io`, ...), the object decoded from its JSON
into the global `obj`: maps and lists become tables, numbers Lua numbers, a missing or null field
nil. It reads `status` and `message` from the table the script returns, and answers Unknown for
a status it does not know. `argocd_health` does the same with a real Lua 5.1 (lupa); e2e tests
call it on objects read from the cluster.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import lupa.lua51  # type: ignore[import-untyped]  # no stubs: kept inside this module
import yaml

from promotion_operator.status import rfc3339

ROOT = Path(__file__).resolve().parents[2]
ARGOCD = ROOT / "argocd"
HEALTH_LUA = ARGOCD / "health.lua"

# gitops-engine's HealthStatusCode values; anything else becomes Unknown.
VALID_STATUSES = frozenset(
    {"Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown"}
)
INVALID_STATUS_MESSAGE = "Lua returned an invalid health status"  # Argo CD's words

# What a script from argocd-cm may see, at most: gopher-lua's base library (less its file and
# module loading), `table`, and a safe `os`. No `string` library: not even as methods on strings.
_SANDBOX = """
local script, obj = ...
debug.setmetatable("", nil)
local env = {obj = obj, table = table,
             os = {time = os.time, date = os.date, clock = os.clock, difftime = os.difftime}}
for _, name in ipairs({"assert", "error", "getmetatable", "ipairs", "next", "pairs", "pcall",
                       "rawequal", "rawget", "rawset", "select", "setmetatable", "tonumber",
                       "tostring", "type", "unpack", "xpcall", "_VERSION"}) do
  env[name] = _G[name]
end
env._G = env
local chunk, problem = loadstring(script, "=health.lua")
if chunk == nil then
  error(problem)
end
setfenv(chunk, env)
return chunk()
"""


class HealthScriptError(RuntimeError):
    """The script failed to run, or returned something Argo CD would refuse."""


def argocd_health(obj: Mapping[str, Any]) -> tuple[str, str]:
    """(status, message) Argo CD shows for this ModelPromotion (an API object as a dict)."""
    return run_health_script(HEALTH_LUA.read_text(), obj)


def run_health_script(script: str, obj: Mapping[str, Any]) -> tuple[str, str]:
    result = _execute(script, obj)
    if lupa.lua51.lua_type(result) != "table":
        raise HealthScriptError(f"health.lua must return a table, not {result!r}")
    status, message = result["status"], result["message"]
    if status not in VALID_STATUSES:
        return "Unknown", INVALID_STATUS_MESSAGE
    return str(status), "" if message is None else str(message)


def lua_eval(obj: Mapping[str, Any], expression: str) -> Any:
    """A Lua expression about `obj` as a health script sees it (for testing the bridge)."""
    return _execute(f"return {expression}", obj)


def _execute(script: str, obj: Mapping[str, Any]) -> Any:
    runtime = lupa.lua51.LuaRuntime()
    try:
        return runtime.execute(_SANDBOX, script, to_lua(runtime, obj))
    except lupa.lua51.LuaError as exc:
        raise HealthScriptError(f"the Lua script failed: {exc}") from None


def to_lua(runtime: Any, value: Any) -> Any:
    """A JSON-like Python value as Argo CD hands it to Lua (timestamps as their RFC 3339 text)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime):  # what a typed client returns where the API sends a string
        return rfc3339(value)
    if isinstance(value, Mapping):
        table = runtime.table()
        for key, item in value.items():
            table[str(key)] = to_lua(runtime, item)  # None: the key stays absent (nil)
        return table
    if isinstance(value, Sequence):
        table = runtime.table()
        for index, item in enumerate(value, start=1):
            table[index] = to_lua(runtime, item)
        return table
    raise TypeError(f"cannot hand a {type(value).__name__} to Lua: pass the object as JSON")


class _KubernetesYamlLoader(yaml.SafeLoader):
    """YAML as Argo CD reads its test inputs (sigs.k8s.io/yaml): a timestamp stays a string."""


_KubernetesYamlLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_yaml(path: Path) -> Any:
    return yaml.load(path.read_text(), Loader=_KubernetesYamlLoader)


@cache
def expectations() -> tuple[tuple[str, str, str], ...]:
    """(inputPath, status, message) of each case in argocd/health_test.yaml (Argo's format)."""
    tests = load_yaml(ARGOCD / "health_test.yaml")["tests"]
    return tuple(
        (case["inputPath"], case["healthStatus"]["status"], case["healthStatus"]["message"])
        for case in tests
    )
