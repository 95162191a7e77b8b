"""Each namespace really isolated (or really shared when absent from the config), checked from
inside the container with busybox; joining existing namespaces by path."""

from __future__ import annotations

import ctypes
import os
import re
import subprocess
import zlib
from collections.abc import Iterator

import pytest
from helpers import leaks, procs
from helpers.containers import create, inside

# config.json namespace type -> name under /proc/<pid>/ns
PROC_NAME = {"pid": "pid", "network": "net", "ipc": "ipc", "uts": "uts", "mount": "mnt", "cgroup": "cgroup",
             "user": "user", "time": "time"}


def host_ns(ns_type: str, pid: int | str = "self") -> str:
    return os.readlink(f"/proc/{pid}/ns/{PROC_NAME[ns_type]}")


def inside_ns(runtime, bundle, cid, ns_type: str) -> str:
    return inside(runtime, bundle, cid, f"readlink /proc/self/ns/{PROC_NAME[ns_type]}").strip()


@pytest.mark.parametrize("ns_type", ["pid", "network", "ipc", "uts", "mount", "cgroup"])
def test_namespace_in_config_is_new(runtime, bundle, container_id, ns_type):
    bundle.set_namespace(ns_type)
    ns = inside_ns(runtime, bundle, container_id, ns_type)
    assert re.fullmatch(rf"{PROC_NAME[ns_type]}:\[\d+\]", ns)
    assert ns != host_ns(ns_type)


@pytest.mark.parametrize("ns_type", ["pid", "network", "ipc", "uts", "cgroup"])
def test_namespace_absent_from_config_is_the_hosts(runtime, bundle, container_id, ns_type):
    bundle.drop_namespace(ns_type)
    assert inside_ns(runtime, bundle, container_id, ns_type) == host_ns(ns_type)


# --- what each namespace hides, seen from inside ------------------------------------------

def test_uts_hostname(runtime, bundle, container_id):
    bundle.config["hostname"] = "box-" + container_id[-8:]
    assert inside(runtime, bundle, container_id, "hostname") == f"box-{container_id[-8:]}\n"
    assert os.uname().nodename != "box-" + container_id[-8:]


@pytest.mark.ours_only  # runc 1.1.5 ignores domainname (added in runc 1.2)
def test_uts_domainname(runtime, bundle, container_id):
    bundle.config["domainname"] = "example.test"
    assert inside(runtime, bundle, container_id, "cat /proc/sys/kernel/domainname") == "example.test\n"


def test_pid_namespace_process_is_pid_1_and_sees_only_its_own(runtime, bundle, container_id):
    out = inside(runtime, bundle, container_id, "echo $$; ls /proc | grep -c '^[0-9]'").split()
    assert out[0] == "1"
    assert int(out[1]) <= 3  # sh, ls and grep at most


def interfaces(proc_net_dev: str) -> set[str]:
    return {line.split(":")[0].strip() for line in proc_net_dev.splitlines()[2:] if ":" in line}


def test_network_namespace_has_only_loopback(runtime, bundle, container_id):
    host = interfaces(open("/proc/net/dev").read())
    assert host - {"lo"}, "the host should have an interface besides lo for this test to mean something"
    assert interfaces(inside(runtime, bundle, container_id, "cat /proc/net/dev")) == {"lo"}


def test_shared_network_namespace_sees_host_interfaces(runtime, bundle, container_id):
    bundle.drop_namespace("network")
    seen = interfaces(inside(runtime, bundle, container_id, "cat /proc/net/dev"))
    assert seen == interfaces(open("/proc/net/dev").read())


_libc = ctypes.CDLL(None, use_errno=True)
IPC_CREAT, IPC_RMID = 0o1000, 0


@pytest.fixture
def host_shm_key(container_id) -> Iterator[int]:
    """A SysV shared memory segment on the host, with a key derived from the test's id."""
    key = zlib.crc32(container_id.encode()) & 0x7FFFFFFF
    shmid = _libc.shmget(key, 4096, IPC_CREAT | 0o600)
    assert shmid >= 0, os.strerror(ctypes.get_errno())
    yield key
    _libc.shmctl(shmid, IPC_RMID, None)


def shm_keys(sysvipc: str) -> set[int]:
    return {int(line.split()[0]) for line in sysvipc.splitlines()[1:] if line.strip()}


def test_ipc_namespace_hides_host_shm(runtime, bundle, container_id, host_shm_key):
    assert host_shm_key in shm_keys(open("/proc/sysvipc/shm").read())
    assert host_shm_key not in shm_keys(inside(runtime, bundle, container_id, "cat /proc/sysvipc/shm"))


def test_shared_ipc_namespace_sees_host_shm(runtime, bundle, container_id, host_shm_key):
    bundle.drop_namespace("ipc")
    assert host_shm_key in shm_keys(inside(runtime, bundle, container_id, "cat /proc/sysvipc/shm"))


def test_mount_namespace_keeps_container_mounts_off_the_host(runtime, bundle, container_id):
    bundle.add_mount("/data", "tmpfs", "tmpfs", ["size=1m"])
    create(runtime, bundle, container_id)  # the init has set up its mounts by now
    on_host = [m.text() for m in leaks.read_mounts().values() if str(bundle.path) in m.text()]
    assert on_host == []
    runtime.delete(container_id).ok()


def test_mount_namespace_sees_its_own_mounts(runtime, bundle, container_id):
    bundle.add_mount("/data", "tmpfs", "tmpfs", ["size=1m"])
    mounts = inside(runtime, bundle, container_id, "cat /proc/self/mounts")
    points = [line.split()[1] for line in mounts.splitlines()]
    assert "/data" in points and "/proc" in points
    assert not any(p.startswith(str(bundle.path)) for p in points)


def test_cgroup_namespace_roots_the_cgroup_paths(runtime, bundle, container_id):
    bundle.set_namespace("cgroup")
    paths = [line.split(":", 2)[2] for line in inside(runtime, bundle, container_id,
                                                     "cat /proc/self/cgroup").splitlines()]
    assert paths and set(paths) == {"/"}


def test_without_cgroup_namespace_the_host_path_shows(runtime, bundle, container_id):
    bundle.drop_namespace("cgroup")
    text = inside(runtime, bundle, container_id, "cat /proc/self/cgroup")
    assert container_id in text


@pytest.mark.ours_only
def test_time_namespace_offsets(runtime, bundle, container_id):
    bundle.set_namespace("time")
    bundle.linux["timeOffsets"] = {"monotonic": {"secs": 86400, "nanosecs": 0},
                                   "boottime": {"secs": 172800, "nanosecs": 0}}
    out = inside(runtime, bundle, container_id, "cat /proc/self/timens_offsets; readlink /proc/self/ns/time")
    lines = out.splitlines()
    assert lines[0].split() == ["monotonic", "86400", "0"]
    assert lines[1].split() == ["boottime", "172800", "0"]
    assert lines[2] != host_ns("time")


# --- joining namespaces by path ------------------------------------------------------------

@pytest.fixture
def ns_holder() -> Iterator[int]:
    """A sleeping process in fresh uts, ipc and network namespaces; killed afterwards."""
    holder = subprocess.Popen(["unshare", "--uts", "--ipc", "--net", "sleep", "1000"])
    try:
        # unshare execs sleep in the same process: wait until the exec happened.
        procs.wait_until(lambda: procs.cmdline(holder.pid)[:1] == ["sleep"], "unshare never exec'd sleep")
        assert host_ns("uts", holder.pid) != host_ns("uts")
        yield holder.pid
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.parametrize("ns_type", ["uts", "ipc", "network"])
def test_join_namespace_by_path(runtime, bundle, container_id, ns_holder, ns_type):
    bundle.set_namespace(ns_type, f"/proc/{ns_holder}/ns/{PROC_NAME[ns_type]}")
    if ns_type == "uts":
        bundle.config.pop("hostname", None)
    assert inside_ns(runtime, bundle, container_id, ns_type) == host_ns(ns_type, ns_holder)


@pytest.fixture
def pid_ns_holder() -> Iterator[int]:
    """pid 1 of a fresh pid namespace (a sleep under `unshare --fork`); killed afterwards."""
    holder = subprocess.Popen(["unshare", "--pid", "--fork", "--kill-child", "sleep", "1000"])
    child = 0
    try:
        def sleeping_child() -> int:
            children = open(f"/proc/{holder.pid}/task/{holder.pid}/children").read().split()
            return int(children[0]) if children and procs.cmdline(int(children[0]))[:1] == ["sleep"] else 0

        procs.wait_until(sleeping_child, "unshare never started its child")
        child = sleeping_child()
        yield child
    finally:
        holder.kill()
        holder.wait()
        # --kill-child signals the sleep as unshare dies; it is gone a moment later, and the
        # leak checker must not see it still exiting. If this process is a subreaper, the
        # orphan is ours to reap.
        def child_gone() -> bool:
            try:
                os.waitpid(child, os.WNOHANG)
            except ChildProcessError:
                pass
            return not os.path.exists(f"/proc/{child}")

        if child:
            procs.wait_until(child_gone, f"pid {child} outlived unshare")


def test_join_pid_namespace_by_path(runtime, bundle, container_id, pid_ns_holder):
    bundle.set_namespace("pid", f"/proc/{pid_ns_holder}/ns/pid")
    out = inside(runtime, bundle, container_id, "echo $$; readlink /proc/self/ns/pid").split()
    assert out[0] != "1"  # the holder is pid 1 there
    assert out[1] == host_ns("pid", pid_ns_holder)
