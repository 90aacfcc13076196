"""Print the tag of one target of the root Dockerfile, computed from that target's inputs only:
the global ARGs, the stages it is built from (followed through `FROM <stage>` and
`--from=<stage>`), the build arguments given here, .dockerignore, and the content of every file
those stages COPY or ADD from the build context (git's tracked and untracked-not-ignored files).
So a clean tree always gets the same tag, a dirty one its own, and a change to another target's
stage or sources leaves this tag alone. Comments and blank lines are not inputs.

Usage: python3 hack/image-tag.py [--root DIR] [--build-arg NAME=VALUE]... [--inputs] TARGET
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FROM = re.compile(r"FROM\s+(?:--\S+\s+)*(?P<image>\S+)(?:\s+AS\s+(?P<name>\S+))?\s*$", re.I)
# `COPY --from=x` and `RUN --mount=type=bind,from=x`: x is a stage, an index or an image.
FROM_FLAG = re.compile(r"(?:--|,|=)from=(?P<ref>[^\s,]+)")
TAG_LENGTH = 12


@dataclass(eq=False)
class Stage:
    """One `FROM` block: its instructions, what it is built on and reads, what it copies in."""

    name: str
    refs: list[str]
    instructions: list[str] = field(default_factory=list)
    copies: list[str] = field(default_factory=list)


def instructions(dockerfile: str) -> list[str]:
    """Logical instructions: continuation lines joined, comments and blank lines dropped."""
    out: list[str] = []
    current = ""
    for raw in dockerfile.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        out.append(current + line)
        current = ""
    if current:
        out.append(current.strip())
    return out


def context_sources(instruction: str) -> list[str]:
    """The build-context paths of a COPY/ADD (none when it copies from a stage or an image)."""
    args = instruction.split(None, 1)[1].strip()
    words: list[str] = json.loads(args) if args.startswith("[") else args.split()
    if any(word.startswith("--from=") for word in words):
        return []
    paths = [word for word in words if not word.startswith("--")][:-1]  # the last: destination
    return [path.lstrip("/") or "." for path in paths if "://" not in path]


def parse(dockerfile: str) -> tuple[list[str], list[Stage]]:
    """The global instructions (before the first FROM) and the stages, in order."""
    preamble: list[str] = []
    stages: list[Stage] = []
    for instruction in instructions(dockerfile):
        keyword = instruction.split(None, 1)[0].upper()
        if keyword == "FROM":
            match = FROM.match(instruction)
            if match is None:
                raise SystemExit(f"image-tag: cannot parse {instruction!r}")
            stages.append(Stage(name=match["name"] or str(len(stages)), refs=[match["image"]]))
        if not stages:
            preamble.append(instruction)
            continue
        stage = stages[-1]
        stage.instructions.append(instruction)
        if keyword in {"COPY", "ADD", "RUN"}:
            stage.refs += [flag["ref"] for flag in FROM_FLAG.finditer(instruction)]
        if keyword in {"COPY", "ADD"}:
            stage.copies += context_sources(instruction)
    return preamble, stages


def closure(stages: list[Stage], target: str) -> list[Stage]:
    """The target's stage and every stage it is built from or reads, in Dockerfile order."""
    by_ref = {str(i): stage for i, stage in enumerate(stages)}
    by_ref |= {stage.name.lower(): stage for stage in stages}
    if target.lower() not in by_ref:
        raise SystemExit(f"image-tag: no stage named {target!r} in the Dockerfile")
    used: set[Stage] = set()
    todo = [by_ref[target.lower()]]
    while todo:
        stage = todo.pop()
        if stage not in used:
            used.add(stage)
            # Any other reference is an image, named by the instructions already hashed.
            todo += [by_ref[ref.lower()] for ref in stage.refs if ref.lower() in by_ref]
    return [stage for stage in stages if stage in used]


def context_files(root: Path, paths: list[str]) -> list[str]:
    """Tracked and untracked-but-not-ignored files under the paths, as git sees them."""
    if not paths:
        return []
    listed = subprocess.run(
        ["git", "-C", str(root), "ls-files", "-z", "-co", "--exclude-standard", "--", *paths],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    # A tracked file deleted in the work tree is not copied, so it is no input.
    return sorted({p for p in listed.split("\0") if p and (root / p).is_file()})


def inputs(root: Path, target: str) -> tuple[list[str], list[Stage], list[str]]:
    """What the target is built from: global instructions, stages, context files."""
    preamble, stages = parse((root / "Dockerfile").read_text())
    used = closure(stages, target)
    # .dockerignore decides what a COPY of a folder takes, so it is an input too.
    paths = [".dockerignore", *(path for s in used for path in s.copies)]
    return preamble, used, context_files(root, paths)


def tag(root: Path, target: str, build_args: list[str]) -> str:
    preamble, used, files = inputs(root, target)
    digest = hashlib.sha256()
    for text in [*preamble, *(i for s in used for i in s.instructions), *sorted(build_args)]:
        digest.update(text.encode() + b"\n")
    for path in files:
        file = root / path
        executable = file.stat().st_mode & 0o111 != 0
        digest.update(f"{path}\0{executable}\0".encode())
        digest.update(hashlib.sha256(file.read_bytes()).digest())
    return digest.hexdigest()[:TAG_LENGTH]


def main() -> None:
    parser = argparse.ArgumentParser(description="Print the tag of one Dockerfile target.")
    parser.add_argument("target", help="a stage name of the Dockerfile")
    parser.add_argument("--root", type=Path, default=ROOT, help="the build context (a git tree)")
    parser.add_argument("--build-arg", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--inputs", action="store_true", help="list the inputs, not the tag")
    args = parser.parse_args()
    try:
        if args.inputs:
            _, used, files = inputs(args.root, args.target)
            print("stages:", *(stage.name for stage in used))
            print("files:", *files, sep="\n  ")
        else:
            print(tag(args.root, args.target, args.build_arg))
    except subprocess.CalledProcessError as exc:
        sys.exit(f"image-tag: git failed in {args.root}: {exc.stderr.strip()}")


if __name__ == "__main__":
    main()
