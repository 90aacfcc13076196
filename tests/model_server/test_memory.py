"""The working set the server reports: the container cgroup's (v1 or v2) in a pod, else RSS."""

from __future__ import annotations

from pathlib import Path

from model_server.memory import read_memory

MIB = 1024 * 1024


def test_cgroup_v2_subtracts_inactive_file_cache(tmp_path: Path) -> None:
    (tmp_path / "memory.current").write_text(f"{300 * MIB}\n")
    (tmp_path / "memory.max").write_text(f"{512 * MIB}\n")
    (tmp_path / "memory.stat").write_text(f"anon 1\ninactive_file {100 * MIB}\nactive_file 2\n")
    reading = read_memory(tmp_path, in_pod=True)
    assert (reading.working_set_bytes, reading.limit_bytes) == (200 * MIB, 512 * MIB)
    assert reading.source == "cgroup"
    (tmp_path / "memory.max").write_text("max\n")
    assert read_memory(tmp_path, in_pod=True).limit_bytes is None


def test_cgroup_v1_treats_the_huge_default_as_no_limit(tmp_path: Path) -> None:
    memory = tmp_path / "memory"
    memory.mkdir()
    (memory / "memory.usage_in_bytes").write_text(f"{250 * MIB}\n")
    (memory / "memory.limit_in_bytes").write_text("9223372036854771712\n")
    (memory / "memory.stat").write_text(f"cache 9\ntotal_inactive_file {50 * MIB}\n")
    reading = read_memory(tmp_path, in_pod=True)
    assert (reading.working_set_bytes, reading.limit_bytes) == (200 * MIB, None)
    (memory / "memory.limit_in_bytes").write_text(f"{256 * MIB}\n")
    assert read_memory(tmp_path, in_pod=True).limit_bytes == 256 * MIB


def test_outside_a_pod_it_is_the_processs_resident_set(tmp_path: Path) -> None:
    reading = read_memory(tmp_path, in_pod=False)
    assert reading.source == "process"
    assert reading.limit_bytes is None
    assert 10 * MIB < reading.working_set_bytes < 8192 * MIB  # this test process
    ballast = b"\x01" * (200 * MIB)  # written, hence resident
    assert (
        read_memory(tmp_path, in_pod=False).working_set_bytes
        > reading.working_set_bytes + 150 * MIB
    )
    del ballast


def test_a_pod_without_readable_cgroup_files_falls_back_to_rss(tmp_path: Path) -> None:
    assert read_memory(tmp_path, in_pod=True).source == "process"
