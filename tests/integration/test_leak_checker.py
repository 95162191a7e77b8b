"""The leak checker itself: it must see each kind of leak and clean it up, or every other
integration test could pass without proving that nothing was left behind."""

from __future__ import annotations

import os
import subprocess

from helpers import leaks, procs
from helpers.containers import create


def test_sees_and_cleans_a_container_left_behind(runtime, bundle, container_id, leak_scope):
    before = leaks.snapshot(leak_scope)
    c = create(runtime, bundle, container_id)
    found = leaks.check(before, leak_scope)
    assert found.states == [container_id]
    assert c.pid in {p.pid for p in found.processes}
    assert any(container_id in cg for cg in found.cgroups), found.report()

    assert leaks.cleanup(found, leak_scope, runtime.path) == []
    assert not leaks.check(before, leak_scope), leaks.check(before, leak_scope).report()
    assert not procs.alive(c.pid)
    assert leaks.container_traces(leak_scope, container_id) == []


def test_sees_and_cleans_a_mount(test_dir, leak_scope):
    target = test_dir / "mnt"
    target.mkdir()
    before = leaks.snapshot(leak_scope)
    subprocess.run(["mount", "-t", "tmpfs", "leaktest", str(target)], check=True)
    found = leaks.check(before, leak_scope)
    assert [m.mount_point for m in found.mounts] == [str(target)]
    assert leaks.cleanup(found, leak_scope, "/bin/false") == []
    assert not leaks.check(before, leak_scope)


def test_sees_and_cleans_a_process_and_an_fd(test_dir, leak_scope):
    before = leaks.snapshot(leak_scope)
    sleeper = subprocess.Popen(["sleep", "1000"])
    fd = os.open(test_dir / "some-file", os.O_CREAT | os.O_RDWR)
    found = leaks.check(before, leak_scope)
    assert [p.pid for p in found.processes] == [sleeper.pid]
    assert list(found.fds) == [fd]
    assert leaks.cleanup(found, leak_scope, "/bin/false") == []
    assert sleeper.poll() is not None or procs.wait_exit(sleeper.pid) is not None
    assert not leaks.check(before, leak_scope)


def test_sees_an_orphaned_process(test_dir, leak_scope, runtime):
    before = leaks.snapshot(leak_scope)
    # Double-forked into its own session, as a runtime helper might be: it is re-parented to
    # us (the tests are a subreaper, like containerd's shim) and carries the env marker.
    subprocess.run(["sh", "-c", "setsid sleep 1000 >/dev/null 2>&1 < /dev/null &"], env=runtime.env(), check=True)
    procs.reap_zombie_children()
    found = leaks.check(before, leak_scope)
    assert [p.cmdline for p in found.processes] == ["sleep 1000"], found.report()
    assert leaks.cleanup(found, leak_scope, "/bin/false") == []
    assert not leaks.check(before, leak_scope)
