"""The manager's cgroup v2 paths against the real cgroup2 hierarchy of this hybrid host.

A container whose cgroup lives only on cgroup2 cannot exist here (v1 holds most
controllers), but a manager that sees only the cgroup2 mount runs every v2 code path that
needs no v2 controller: placement, pids, cgroup.freeze, cpu.stat, cgroup.kill, removal.
No controllers are offered to it, so the root's cgroup.subtree_control (shared by every
user of the host) is never written.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from ociruntime.cgroups import is_paused, manager_from_state
from ociruntime.cgroups.setup import manager_for
from ociruntime.cgroups.layout import Hierarchy, Layout, read_layout
from native.support import move_into_cgroup

UNIFIED = read_layout().unified


def _read(path: str) -> str:
    with open(path) as f:
        return f.read().strip()


@pytest.fixture
def parent() -> Iterator[str]:
    assert UNIFIED is not None, "this host mounts cgroup2 (hybrid)"
    name = f"ocrtest-v2-{secrets.token_hex(4)}"
    yield name
    path = os.path.join(UNIFIED.mountpoint, name)
    left = os.path.exists(path)
    if left:
        for d in sorted((os.path.join(p, n) for p, ns, _ in os.walk(path) for n in ns), key=len,
                        reverse=True):
            os.rmdir(d)
        os.rmdir(path)
    assert not left, f"cgroup dir left behind: {path}"


def _v2_manager(parent: str, resources: dict | None = None):
    layout = Layout((), Hierarchy(UNIFIED.mountpoint, "/", ()))  # type: ignore[union-attr]
    config = {"linux": {"cgroupsPath": f"/{parent}/ctr", "resources": resources or {}}}
    return manager_for(config, "ocrtest-v2", layout=layout, unified_controllers=frozenset())


def _usage_usec(d: str) -> int:
    for line in _read(f"{d}/cpu.stat").splitlines():
        key, value = line.split()
        if key == "usage_usec":
            return int(value)
    raise AssertionError("cpu.stat has no usage_usec")


def test_v2_place_freeze_stats_and_force_destroy(parent: str) -> None:
    m = _v2_manager(parent)
    assert m.mode == "v2"
    root_control = _read(f"{UNIFIED.mountpoint}/cgroup.subtree_control")  # type: ignore[union-attr]
    spinner = None
    try:
        m.create()
        leaf = m.paths()["unified"]
        assert leaf == f"{UNIFIED.mountpoint}/{parent}/ctr" and m.created == [  # type: ignore[union-attr]
            f"{UNIFIED.mountpoint}/{parent}", leaf]  # type: ignore[union-attr]
        spinner = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read(1)\nwhile True: pass"],
                                   stdin=subprocess.PIPE)
        move_into_cgroup(m, spinner.pid)
        assert f"0::/{parent}/ctr" in _read(f"/proc/{spinner.pid}/cgroup").splitlines()
        assert m.pids() == [spinner.pid]
        spinner.stdin.write(b"g")   # type: ignore[union-attr]
        spinner.stdin.flush()       # type: ignore[union-attr]

        # Pause through cgroup.freeze: the kernel reports frozen and the CPU time stops.
        m.freeze()
        assert m.is_frozen() and "frozen 1" in _read(f"{leaf}/cgroup.events").splitlines()
        assert manager_from_state(m.to_state()).is_frozen()
        assert is_paused(m.to_state())  # as `state` sees it
        usage = _usage_usec(leaf)
        time.sleep(0.2)
        assert _usage_usec(leaf) == usage
        m.thaw()
        assert not m.is_frozen()
        assert not is_paused(m.to_state())
        deadline = time.monotonic() + 10
        while _usage_usec(leaf) == usage:
            assert time.monotonic() < deadline, "thawed task never ran"
            time.sleep(0.01)

        stats = m.stats()
        assert 0 < stats["cpu"]["usage"]["total"] <= _usage_usec(leaf) * 1000
        assert stats["pids"] == {} and stats["hugetlb"] == {}   # no controllers offered

        # delete --force: cgroup.kill, then the directories go (retrying while tasks exit).
        m.destroy(force=True)
        assert spinner.wait(timeout=10) == -signal.SIGKILL
        assert not os.path.exists(f"{UNIFIED.mountpoint}/{parent}")   # type: ignore[union-attr]
        assert _read(f"{UNIFIED.mountpoint}/cgroup.subtree_control") == root_control  # type: ignore[union-attr]
    finally:
        if spinner is not None and spinner.poll() is None:
            spinner.kill()
            spinner.wait()
        m.destroy(force=True)
