"""The CLI ends with os._exit after flushing stdio (no interpreter teardown): output
still arrives whole, the exit status is the verb's, and a failed flush is status 120, as
Python's own exit reports it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
VPY = str(REPO / ".venv/bin/python") if (REPO / ".venv/bin/python").exists() else sys.executable
ENTRY = [VPY, "-IS", str(REPO / "tools/entry.py")]


def _cli(*args: str, stdout: int | None = subprocess.PIPE) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*ENTRY, *args], stdin=subprocess.DEVNULL, stdout=stdout,
                          stderr=subprocess.PIPE, text=True, timeout=60)


def test_buffered_output_arrives_whole(tmp_path: Path) -> None:
    # both print through the buffered sys.stdout
    done = _cli("--version")
    assert done.returncode == 0
    assert done.stdout.startswith("ociruntime version ") and done.stdout.endswith("\n")
    listing = _cli("--root", str(tmp_path), "list", "--format", "json")
    assert (listing.returncode, listing.stdout.strip()) == (0, "[]")


def test_the_verbs_exit_status_is_kept(tmp_path: Path) -> None:
    missing = _cli("--root", str(tmp_path), "state", "no-such-container")
    assert missing.returncode == 1
    assert missing.stderr.strip() and missing.stderr.count("\n") == 1  # one line, as runc
    assert _cli("no-such-verb").returncode == 1


def test_a_failed_flush_is_status_120_without_a_traceback() -> None:
    with open("/dev/full", "w") as full:  # every write fails with ENOSPC
        done = _cli("--version", stdout=full.fileno())
    assert done.returncode == 120
    assert "Traceback" not in done.stderr
