"""hack/provider-kind/runtime-wrapper.sh: the OCI runtime in front of runc that drops
CAP_SYS_RESOURCE (kind's privileged nodes, and pods in them, on VMs without it), run for real
with a recording stand-in for runc."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from mlrollout.testbed.tools import ROOT

WRAPPER = ROOT / "hack" / "provider-kind" / "runtime-wrapper.sh"
ALL_SETS = ("bounding", "effective", "inheritable", "permitted", "ambient")

pytestmark = pytest.mark.skipif(shutil.which("jq") is None, reason="the wrapper needs jq")


def _capabilities(*caps: str) -> dict[str, list[str]]:
    return {name: list(caps) for name in ALL_SETS}


def _run(tmp_path: Path, *args: str) -> list[str]:
    """Run the wrapper with a fake runc that records its arguments; return them."""
    recorded = tmp_path / "runc-args.json"
    fake = tmp_path / "runc"
    fake.write_text(f"#!/bin/sh\njq -n '$ARGS.positional' --args -- \"$@\" > {recorded}\n")
    fake.chmod(0o755)
    env = {**os.environ, "MLROLLOUT_RUNC": str(fake)}
    subprocess.run([str(WRAPPER), *args], env=env, check=True, timeout=30)
    answer: list[str] = json.loads(recorded.read_text())
    return answer


def _write(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(json.dumps(data))
    return path


def test_create_drops_sys_resource_from_every_set_and_keeps_the_rest(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    caps = _capabilities("CAP_CHOWN", "CAP_SYS_RESOURCE", "CAP_NET_ADMIN")
    _write(bundle / "config.json", {"ociVersion": "1.0.2", "process": {"capabilities": caps}})
    args = ("--root", "/run/x", "create", "--bundle", str(bundle), "--pid-file", "p", "ctr-1")

    assert _run(tmp_path, *args) == list(args)  # runc gets exactly what the caller passed

    written = json.loads((bundle / "config.json").read_text())
    assert written["ociVersion"] == "1.0.2"
    assert written["process"]["capabilities"] == _capabilities("CAP_CHOWN", "CAP_NET_ADMIN")


def test_exec_drops_it_from_the_process_file(tmp_path: Path) -> None:
    process = _write(tmp_path / "process.json", {"args": ["sh"], "capabilities": _capabilities(
        "CAP_SYS_RESOURCE", "CAP_KILL")})  # fmt: skip
    _run(tmp_path, "exec", "--process", str(process), "--detach", "ctr-1")
    assert json.loads(process.read_text()) == {"args": ["sh"], "capabilities": _capabilities(
        "CAP_KILL")}  # fmt: skip


def test_the_bundle_defaults_to_the_working_directory_and_equals_forms_work(
    tmp_path: Path,
) -> None:
    bundle = tmp_path / "b"
    bundle.mkdir()
    _write(bundle / "config.json", {"process": {"capabilities": _capabilities("CAP_SYS_RESOURCE")}})
    _run(tmp_path, "run", f"--bundle={bundle}", "ctr-2")
    assert json.loads((bundle / "config.json").read_text())["process"]["capabilities"] == (
        _capabilities()
    )


def test_other_commands_and_configs_without_capabilities_pass_through(tmp_path: Path) -> None:
    bundle = tmp_path / "plain"
    bundle.mkdir()
    config = _write(bundle / "config.json", {"process": {"args": ["true"]}})
    before = config.read_text()
    _run(tmp_path, "create", "-b", str(bundle), "ctr-3")
    assert json.loads(config.read_text()) == json.loads(before)
    assert _run(tmp_path, "state", "ctr-3") == ["state", "ctr-3"]
