"""create, run and exec start ociruntime-attach-warmer before anything else
(ociruntime/cgroups/warmup.py); whatever happens to the verb, no warmer may outlive it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers.containers import SLEEPER, create

from ociruntime.cgroups.warmup import WARMER

pytestmark = pytest.mark.ours_only


def _warmers() -> list[int]:
    """Pids of every process running the warmer binary (looked at, never signalled)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.readlink(f"/proc/{entry}/exe") == WARMER:
                    found.append(int(entry))
            except OSError:
                continue
    return found


def test_no_warmer_outlives_run_create_exec_or_a_failed_create(runtime, bundle, make_id, tmp_path: Path):
    assert _warmers() == []
    bundle.sh("true")
    runtime.run(make_id(), bundle).ok()
    assert _warmers() == []

    bundle.sh(SLEEPER)
    cid = make_id()
    create(runtime, bundle, cid)
    assert _warmers() == []
    runtime.start(cid).ok()
    runtime.call("exec", cid, "true").ok()
    assert _warmers() == []
    runtime.delete(cid, force=True).ok()

    runtime.call("create", "--bundle", tmp_path / "no-such-bundle", make_id()).failed("no-such-bundle")
    runtime.call("exec", "no-such-container", "true").failed("container does not exist", code=255)
    runtime.call("create", "--no-such-flag", make_id()).failed()
    assert _warmers() == []
