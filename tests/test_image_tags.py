"""hack/image-tag.py: an image's tag follows its own inputs and nothing else. Each test builds a
small git repository with a two-image Dockerfile (never the real tree) and asks for its tags."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "hack" / "image-tag.py"
TARGETS = ("server", "worker")
# server: base -> deps -> server. worker: base -> deps -> worker, plus worker-build through
# COPY --from. Both share base, deps and pyproject.toml.
DOCKERFILE = """\
ARG BASE_IMAGE=debian:bookworm

FROM ${BASE_IMAGE} AS base
RUN useradd app && \\
    mkdir /app

# Dependencies: from pyproject.toml only.
FROM base AS deps
COPY pyproject.toml /src/

FROM deps AS server
COPY server /app/server
CMD ["server"]

FROM base AS worker-build
COPY worker /src/worker

FROM deps AS worker
COPY --from=worker-build /src/worker /app/worker
CMD ["worker"]
"""
FILES = {
    "Dockerfile": DOCKERFILE,
    "pyproject.toml": '[project]\nname = "toy"\n',
    "server/main.py": 'print("server")\n',
    "worker/main.py": 'print("worker")\n',
    "README.md": "Not copied by any stage.\n",
    ".gitignore": "*.log\n",
}


def git(repo: Path, *args: str) -> None:
    identity = ["-c", "user.name=test", "-c", "user.email=test@example.com"]
    subprocess.run(
        ["git", *identity, "-c", "commit.gpgsign=false", "-C", str(repo), *args],
        check=True, capture_output=True,
    )  # fmt: skip


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """The toy repository, committed: a clean tree."""
    root = tmp_path / "repo"
    for name, text in FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    git(root, "init", "--quiet")
    git(root, "add", "--all")
    git(root, "commit", "--quiet", "--message", "toy")
    return root


def run(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--root", str(repo), *args],
        capture_output=True, text=True, check=False, timeout=30,
    )  # fmt: skip


def tags(repo: Path, *build_args: str) -> dict[str, str]:
    found = {}
    for target in TARGETS:
        result = run(repo, *build_args, target)
        assert result.returncode == 0, result.stderr
        found[target] = result.stdout.strip()
    return found


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} should occur once in {path}"
    path.write_text(text.replace(old, new))


def changed(before: dict[str, str], after: dict[str, str]) -> set[str]:
    return {target for target in TARGETS if before[target] != after[target]}


def test_a_clean_tree_has_the_same_tags_wherever_it_is_checked_out(
    repo: Path, tmp_path: Path
) -> None:
    first = tags(repo)
    assert all(re.fullmatch(r"[0-9a-f]{12}", tag) for tag in first.values()), first
    assert first["server"] != first["worker"]
    assert tags(repo) == first
    git(tmp_path, "clone", "--quiet", str(repo), "clone")
    assert tags(tmp_path / "clone") == first


@pytest.mark.parametrize(
    ("path", "old", "new", "retagged"),
    [
        pytest.param("server/main.py", "server", "server v2", {"server"}, id="server source"),
        pytest.param("worker/main.py", "worker", "worker v2", {"worker"}, id="worker source"),
        pytest.param("Dockerfile", '["server"]', '["server", "-v"]', {"server"}, id="server stage"),
        pytest.param("Dockerfile", '["worker"]', '["worker", "-v"]', {"worker"}, id="worker stage"),
        pytest.param(
            "Dockerfile", "/src/worker\n", "/src/worker/\n", {"worker"}, id="stage read by --from"
        ),
        pytest.param("Dockerfile", "mkdir /app", "mkdir -p /app", set(TARGETS), id="shared stage"),
        pytest.param("Dockerfile", "bookworm", "trixie", set(TARGETS), id="global arg"),
        pytest.param("pyproject.toml", "toy", "toy2", set(TARGETS), id="pyproject"),
        pytest.param("README.md", "Not", "Never", set(), id="file no stage copies"),
        pytest.param("Dockerfile", "only.", "alone.", set(), id="comment"),
    ],
)
def test_a_change_retags_exactly_the_images_built_from_it(
    repo: Path, path: str, old: str, new: str, retagged: set[str]
) -> None:
    clean = tags(repo)
    edit(repo / path, old, new)
    assert changed(clean, tags(repo)) == retagged
    edit(repo / path, new, old)
    assert tags(repo) == clean, "undoing the change gives the clean tags back"


def test_tags_follow_content_not_commits(repo: Path) -> None:
    clean = tags(repo)
    edit(repo / "server" / "main.py", "server", "server v2")
    dirty = tags(repo)
    git(repo, "commit", "--quiet", "--all", "--message", "v2")
    assert tags(repo) == dirty
    assert changed(clean, dirty) == {"server"}


def test_untracked_files_count_and_ignored_ones_do_not(repo: Path) -> None:
    clean = tags(repo)
    (repo / "server" / "debug.log").write_text("ignored by .gitignore\n")
    assert tags(repo) == clean
    (repo / "server" / "extra.py").write_text("EXTRA = 1\n")
    assert changed(clean, tags(repo)) == {"server"}


def test_build_arguments_are_inputs(repo: Path) -> None:
    other_base = tags(repo, "--build-arg", "BASE_IMAGE=ubuntu:24.04")
    assert changed(tags(repo), other_base) == set(TARGETS)


def test_inputs_lists_the_stages_and_files_of_one_target(repo: Path) -> None:
    result = run(repo, "--inputs", "worker")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "stages: base deps worker-build worker",
        "files:",
        "  pyproject.toml",
        "  worker/main.py",
    ]


def test_an_unknown_target_is_an_error(repo: Path) -> None:
    result = run(repo, "nope")
    assert result.returncode != 0
    assert "no stage named 'nope'" in result.stderr
