"""CgroupManager on this host's real cgroupfs (hybrid: v1 controllers + cgroup2 with hugetlb).

Every test uses a unique top directory (``/ocrtest-<hex>``), kills only the processes it
started, and checks afterwards that no directory of that name is left in any hierarchy.
"""

from __future__ import annotations

import errno
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ociruntime.cgroups import cli_support, is_paused, manager_for, manager_from_state
from ociruntime.cgroups.layout import read_layout
from ociruntime.errors import ConfigError, KernelError
from native.support import move_into_cgroup

LAYOUT = read_layout()
MOUNTS = [h.mountpoint for h in LAYOUT.v1] + ([LAYOUT.unified.mountpoint] if LAYOUT.unified else [])
MB = 1 << 20


def _read(path: str) -> str:
    with open(path) as f:
        return f.read().strip()


@pytest.fixture
def top() -> Iterator[str]:
    """A unique top-level cgroup name; asserts nothing with that name is left behind."""
    name = f"ocrtest-{secrets.token_hex(4)}"
    yield name
    left = []
    for mount in MOUNTS:
        root = Path(mount) / name
        if root.exists():
            left.append(str(root))
            for d in sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
                d.rmdir()
            root.rmdir()
    assert left == [], f"cgroup dirs left behind: {left}"


@pytest.fixture
def spawn() -> Iterator:
    """Start processes (killed and reaped at the end: only these pids)."""
    started: list[subprocess.Popen] = []

    def start(*argv: str) -> subprocess.Popen:
        proc = subprocess.Popen(list(argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def _manager(path: str, resources: dict | None = None, **linux):
    config = {"linux": {"cgroupsPath": path, "resources": resources or {}, **linux}}
    return manager_for(config, "ctr-" + secrets.token_hex(2))


def _proc_state(pid: int) -> str:
    for line in _read(f"/proc/{pid}/status").splitlines():
        if line.startswith("State:"):
            return line.split()[1]
    raise AssertionError("no State line")


def test_layout_is_this_hosts_hybrid() -> None:
    assert LAYOUT.mode == "hybrid"
    m = _manager("/x")
    assert m.unified_serves == ["hugetlb"] or "hugetlb" in LAYOUT.v1_by_controller()


def test_create_applies_resources_to_real_files(top: str) -> None:
    resources = {
        "memory": {"limit": 64 * MB, "swap": 96 * MB, "reservation": 32 * MB, "kernelTCP": 16 * MB,
                   "swappiness": 10, "disableOOMKiller": True, "useHierarchy": True},
        "cpu": {"shares": 512, "quota": 20000, "period": 100000, "burst": 5000, "idle": 0,
                "realtimePeriod": 1000000, "realtimeRuntime": 1000, "cpus": "0", "mems": "0"},
        "pids": {"limit": 33},
        "blockIO": {"weight": 300, "throttleReadBpsDevice": [{"major": 254, "minor": 0, "rate": 1048576}],
                    "throttleWriteIOPSDevice": [{"major": 254, "minor": 0, "rate": 120}]},
        "hugepageLimits": [{"pageSize": "2MB", "limit": 8 * MB}],
        "devices": [{"allow": False, "access": "rwm"},
                    {"allow": True, "type": "c", "major": 10, "minor": 229, "access": "rwm"},
                    {"allow": True, "type": "b", "major": 8, "minor": 20, "access": "rw"}],
    }
    m = _manager(f"/{top}/ctr", resources)
    m.create()
    p = m.paths()
    try:
        mem, cpu = p["memory"], p["cpu"]
        assert mem == f"/sys/fs/cgroup/memory/{top}/ctr"
        assert _read(f"{mem}/memory.limit_in_bytes") == str(64 * MB)
        assert _read(f"{mem}/memory.memsw.limit_in_bytes") == str(96 * MB)
        assert _read(f"{mem}/memory.soft_limit_in_bytes") == str(32 * MB)
        assert _read(f"{mem}/memory.kmem.tcp.limit_in_bytes") == str(16 * MB)
        assert _read(f"{mem}/memory.swappiness") == "10"
        assert "oom_kill_disable 1" in _read(f"{mem}/memory.oom_control")
        assert _read(f"{cpu}/cpu.shares") == "512"
        assert _read(f"{cpu}/cpu.cfs_quota_us") == "20000"
        assert _read(f"{cpu}/cpu.cfs_period_us") == "100000"
        assert _read(f"{cpu}/cpu.cfs_burst_us") == "5000"
        assert _read(f"{cpu}/cpu.rt_period_us") == "1000000"
        assert _read(f"{cpu}/cpu.rt_runtime_us") == "1000"
        assert _read(f"{p['cpuset']}/cpuset.cpus") == "0" and _read(f"{p['cpuset']}/cpuset.mems") == "0"
        # The parent we created got its parent's CPUs and nodes (a v1 cpuset starts empty).
        assert _read(f"/sys/fs/cgroup/cpuset/{top}/cpuset.cpus") == _read("/sys/fs/cgroup/cpuset/cpuset.cpus")
        assert _read(f"{p['pids']}/pids.max") == "33"
        blkio = p["blkio"]   # BFQ here: no blkio.weight, the weight goes to blkio.bfq.weight
        assert _read(f"{blkio}/blkio.bfq.weight") == "300"
        assert _read(f"{blkio}/blkio.throttle.read_bps_device") == "254:0 1048576"
        assert _read(f"{blkio}/blkio.throttle.write_iops_device") == "254:0 120"
        # hugetlb is not a v1 hierarchy here: its limit lives in the cgroup2 directory.
        assert p["hugetlb"] == f"/sys/fs/cgroup/unified/{top}/ctr"
        assert _read(f"{p['hugetlb']}/hugetlb.2MB.max") == str(8 * MB)
        assert _read(f"{p['hugetlb']}/hugetlb.2MB.rsvd.max") == str(8 * MB)
        # devices.list shows the config's rules first, in order, then runc's defaults.
        listed = _read(f"{p['devices']}/devices.list").splitlines()
        assert listed[:2] == ["c 10:229 rwm", "b 8:20 rw"]
        assert listed[2:] == ["c *:* m", "b *:* m", "c 1:3 rwm", "c 1:8 rwm", "c 1:7 rwm",
                              "c 5:0 rwm", "c 1:5 rwm", "c 1:9 rwm", "c 136:* rwm", "c 5:2 rwm",
                              "c 10:200 rwm"]
        assert len(m.created) == 2 * len({h["dir"] for h in m.hierarchies.values()})
    finally:
        m.destroy()
    assert not any(os.path.exists(d) for d in m.created)


def test_unified_subtree_control_restored_after_destroy(top: str) -> None:
    root = LAYOUT.unified.mountpoint
    before = _read(f"{root}/cgroup.subtree_control")
    m = _manager(f"/{top}/ctr", {"hugepageLimits": [{"pageSize": "2MB", "limit": 2 * MB}]})
    m.create()
    assert "hugetlb" in _read(f"{root}/cgroup.subtree_control").split()
    assert "hugetlb" in _read(f"{root}/{top}/cgroup.subtree_control").split()
    m.destroy()
    others = [e.name for e in os.scandir(root) if e.is_dir()]
    if not others:
        assert _read(f"{root}/cgroup.subtree_control") == before
    elif "hugetlb" not in before.split():
        # Other containers (not ours) live in the root now: hugetlb must stay for them, and
        # the mark lets whichever ociruntime container is deleted last turn it off.
        assert os.getxattr(root, "trusted.ociruntime.enabled") == b"hugetlb"


def test_errors_name_field_and_leave_nothing(top: str) -> None:
    with pytest.raises(ConfigError) as exc:
        _manager(f"/{top}/a", {"cpu": {"shares": 300000}}).create()
    assert str(exc.value) == "config.json: linux.resources.cpu.shares: the maximum allowed cpu-shares is 262144"
    with pytest.raises(ConfigError, match=r"hugepageLimits\[0\]\.pageSize: '3MB' is not a huge page size"):
        _manager(f"/{top}/b", {"hugepageLimits": [{"pageSize": "3MB", "limit": MB}]}).create()
    with pytest.raises(ConfigError) as exc:
        _manager(f"/{top}/c", {"network": {"classID": 1048577}}).create()
    assert "linux.resources.network.classID: no net_cls cgroup hierarchy is mounted" in str(exc.value)
    with pytest.raises(ConfigError) as exc:
        _manager(f"/{top}/d", {"memory": {"useHierarchy": False}}).create()
    assert str(exc.value) == (f"config.json: linux.resources.memory.useHierarchy: cannot set '0': "
                              f"/sys/fs/cgroup/memory/{top}/d/memory.use_hierarchy: Invalid argument")
    with pytest.raises(ConfigError, match=r"rdma\.mlx5_1\.hcaHandles: no rdma controller on this host"):
        _manager(f"/{top}/f", {"rdma": {"mlx5_1": {"hcaHandles": 3}}}).create()
    with pytest.raises(ConfigError, match=r"unified\.memory\.max: controller 'memory' is not available"):
        _manager(f"/{top}/e", {"unified": {"memory.max": "1"}}).create()
    for mount in MOUNTS:
        assert not os.path.exists(f"{mount}/{top}"), mount


def test_process_placement_freeze_stats_update(top: str, spawn) -> None:
    m = _manager(f"/{top}/ctr", {"memory": {"limit": 128 * MB}, "pids": {"limit": 50},
                                 "cpu": {"shares": 256}})
    m.create()
    try:
        # Once placed, the child touches 8 MB (charged to the container) and spins.
        child = spawn(sys.executable, "-c", "import sys; sys.stdin.read(1); b = b'x' * (8 << 20); "
                      "print('ready', flush=True)\nwhile True: pass")
        move_into_cgroup(m, child.pid)
        child.stdin.write(b"g")
        child.stdin.flush()
        assert child.stdout.readline() == b"ready\n"
        own = _read(f"/proc/{child.pid}/cgroup")
        assert own.count(f"/{top}/ctr") == len({h["dir"] for h in m.hierarchies.values()})
        assert m.pids() == [child.pid]

        # Pause: the kernel freezes the task; its CPU time stops moving.
        m.freeze()
        assert m.is_frozen() and _read(f"{m.paths()['freezer']}/freezer.state") == "FROZEN"
        assert _proc_state(child.pid) == "D"
        usage = _read(f"{m.paths()['cpuacct']}/cpuacct.usage")
        time.sleep(0.2)
        assert _read(f"{m.paths()['cpuacct']}/cpuacct.usage") == usage
        # A restored manager (as `state` builds one) sees the same thing with one read.
        assert manager_from_state(m.to_state()).is_frozen()
        assert is_paused(m.to_state())  # as `state` sees it
        m.thaw()
        assert not m.is_frozen() and _proc_state(child.pid) in ("R", "S")
        assert not is_paused(m.to_state())
        deadline = time.monotonic() + 10
        while _read(f"{m.paths()['cpuacct']}/cpuacct.usage") == usage:
            assert time.monotonic() < deadline, "thawed task never ran"
            time.sleep(0.01)

        s = m.stats()
        assert list(s) == ["cpu", "cpuset", "memory", "pids", "blkio", "hugetlb", "intel_rdt",
                           "network_interfaces"]
        mem = m.paths()["memory"]
        assert s["memory"]["usage"]["limit"] == int(_read(f"{mem}/memory.limit_in_bytes")) == 128 * MB
        assert s["memory"]["swap"]["limit"] == int(_read(f"{mem}/memory.memsw.limit_in_bytes"))
        assert s["pids"] == {"current": 1, "limit": 50}
        assert s["cpuset"]["cpus"] == list(range(os.cpu_count()))
        assert 0 < s["cpu"]["usage"]["total"] <= int(_read(f"{m.paths()['cpuacct']}/cpuacct.usage"))
        assert len(s["cpu"]["usage"]["percpu"]) == os.cpu_count()
        assert s["memory"]["raw"]["hierarchical_memory_limit"] == 128 * MB

        # update on the running container.
        m.update({"memory": {"limit": 256 * MB}, "pids": {"limit": 7}, "cpu": {"shares": 2048}})
        assert _read(f"{mem}/memory.limit_in_bytes") == str(256 * MB)
        assert _read(f"{m.paths()['pids']}/pids.max") == "7"
        assert _read(f"{m.paths()['cpu']}/cpu.shares") == "2048"
        m.update({"pids": {"limit": -1}})
        assert _read(f"{m.paths()['pids']}/pids.max") == "max"
        usage = int(_read(f"{mem}/memory.usage_in_bytes"))
        assert usage >= 8 * MB
        with pytest.raises(ConfigError, match=r"^resources: memory\.limit: rejecting memory limit 4194304 below"):
            m.update({"memory": {"limit": 4 * MB, "checkBeforeUpdate": True}})
        assert _read(f"{mem}/memory.limit_in_bytes") == str(256 * MB)
        event = cli_support.stats_event("c1", m)
        assert event["type"] == "stats" and event["data"]["pids"] == {"current": 1}   # max: omitted

        # Without --force, a live task keeps the cgroup: delete refuses, nothing removed.
        with pytest.raises(KernelError, match=rf"cannot remove cgroup .*Device or resource busy"
                           rf".*\(processes still inside: {child.pid}\)"):
            m.destroy()
        assert os.path.isdir(mem)
        m.destroy(force=True)
        child.wait(timeout=10)
        assert child.returncode == -signal.SIGKILL
    finally:
        m.destroy(force=True)


def test_devices_update_without_deny_window(top: str) -> None:
    m = _manager(f"/{top}", {"devices": [{"allow": False, "access": "rwm"}]})
    m.create()
    try:
        d = m.paths()["devices"]
        m.update({"devices": [{"allow": False, "access": "rwm"},
                              {"allow": True, "type": "c", "major": 4, "minor": 1, "access": "r"}]})
        listed = _read(f"{d}/devices.list").splitlines()
        assert "c 4:1 r" in listed and "c 1:3 rwm" in listed and len(listed) == 12
    finally:
        m.destroy()


def _device_probe(path: str) -> str:
    try:
        os.close(os.open(path, os.O_RDONLY))
        return "ok"
    except OSError as e:
        return errno.errorcode[e.errno]


def test_devices_enforced_for_a_member_process(top: str) -> None:
    # /dev/zero declared in linux.devices drops runc's default rule for it.
    m = _manager(f"/{top}", {"devices": [{"allow": False, "access": "rwm"}]},
                 devices=[{"path": "/dev/zero", "type": "c", "major": 1, "minor": 5}])
    m.create()
    try:
        read_fd, write_fd = os.pipe()
        result_r, result_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.read(read_fd, 1)   # wait until placed in the cgroup
                os.write(result_w, f"{_device_probe('/dev/null')} {_device_probe('/dev/zero')}".encode())
            finally:
                os._exit(0)
        move_into_cgroup(m, pid)
        os.write(write_fd, b"x")
        os.waitpid(pid, 0)
        assert os.read(result_r, 100).decode() == "ok EPERM"
        for fd in (read_fd, write_fd, result_r, result_w):
            os.close(fd)
    finally:
        m.destroy()


def test_destroy_keeps_preexisting_parent(top: str) -> None:
    os.mkdir(f"/sys/fs/cgroup/memory/{top}")       # made by someone else
    m = _manager(f"/{top}/ctr")
    m.create()
    assert f"/sys/fs/cgroup/memory/{top}" not in m.created
    assert f"/sys/fs/cgroup/pids/{top}" in m.created
    m.destroy()
    assert os.path.isdir(f"/sys/fs/cgroup/memory/{top}")
    assert not os.path.exists(f"/sys/fs/cgroup/memory/{top}/ctr")
    assert not os.path.exists(f"/sys/fs/cgroup/pids/{top}")
    os.rmdir(f"/sys/fs/cgroup/memory/{top}")


def test_shared_parent_between_two_managers(top: str) -> None:
    a, b = _manager(f"/{top}/a"), _manager(f"/{top}/b")
    a.create()
    b.create()
    assert f"/sys/fs/cgroup/pids/{top}" in a.created and f"/sys/fs/cgroup/pids/{top}" not in b.created
    a.destroy()             # the parent still holds b: it stays
    assert os.path.isdir(f"/sys/fs/cgroup/pids/{top}/b") and not os.path.exists(f"/sys/fs/cgroup/pids/{top}/a")
    # b did not create the parent, but it carries ociruntime's mark: the last one out removes it.
    manager_from_state(b.to_state()).destroy()
    for mount in MOUNTS:
        assert not os.path.exists(f"{mount}/{top}"), mount


def _relative_in_child(top: str) -> list[str]:
    """Runs in a forked child placed in /<top>: map and create a relative cgroupsPath."""
    m = manager_for({"linux": {"cgroupsPath": "rel/ctr"}}, "x")
    m.create()
    dirs = sorted({h["dir"] for h in m.hierarchies.values()})
    m.destroy()
    return dirs


def test_relative_path_below_own_cgroup(top: str) -> None:
    holder = _manager(f"/{top}")
    holder.create()
    try:
        r, w = os.pipe()
        gate_r, gate_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                os.read(gate_r, 1)
                os.write(w, "\n".join(_relative_in_child(top)).encode())
                code = 0
            finally:
                os._exit(code)
        move_into_cgroup(holder, pid)
        os.write(gate_w, b"x")
        _, status = os.waitpid(pid, 0)
        dirs = os.read(r, 65536).decode().split("\n")
        assert os.waitstatus_to_exitcode(status) == 0
        assert dirs == sorted(f"{mount}/{top}/rel/ctr" for mount in MOUNTS)
        for fd in (r, w, gate_r, gate_w):
            os.close(fd)
    finally:
        holder.destroy(force=True)


def test_oom_event_reported(top: str) -> None:
    m = _manager(f"/{top}", {"memory": {"limit": 16 * MB, "swap": 16 * MB}})
    m.create()
    try:
        gate_r, gate_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.read(gate_r, 1)
            hog = []
            while True:
                hog.append(b"x" * (4 * MB))   # touched pages are charged
        events = cli_support.events(m, "c1", interval=60.0, alive=lambda: True)
        assert next(events)["type"] == "stats"   # the first stats event comes at once
        move_into_cgroup(m, pid)
        os.write(gate_w, b"x")
        oom = next(events)
        assert oom == {"type": "oom", "id": "c1"}
        _, status = os.waitpid(pid, 0)
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
        assert m.oom_kill_count() == 1
        events.close()
        os.close(gate_r)
        os.close(gate_w)
    finally:
        m.destroy(force=True)


def test_import_cost_of_package_init() -> None:
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", "import ociruntime.cgroups"],
                         capture_output=True, text=True, check=True).stderr
    loaded = {line.rsplit("|", 1)[-1].strip() for line in out.splitlines() if "|" in line}
    assert "ociruntime.cgroups" in loaded
    assert not {"ociruntime.cgroups.manager", "json", "subprocess"} & loaded


def test_cpu_idle_v1(top: str) -> None:
    m = _manager(f"/{top}/ctr", {"cpu": {"idle": 1}})
    m.create()
    try:
        assert _read(f"{m.paths()['cpu']}/cpu.idle") == "1"
        m.update({"cpu": {"idle": 0}})
        assert _read(f"{m.paths()['cpu']}/cpu.idle") == "0"
    finally:
        m.destroy()


def test_force_destroy_freezes_only_a_cgroup_with_tasks(top: str, spawn, monkeypatch: pytest.MonkeyPatch) -> None:
    """delete of a stopped container pays no freeze/thaw: the cgroup is empty."""
    from ociruntime.cgroups import freezer

    frozen: list[str] = []
    real_freeze = freezer.freeze_v1
    monkeypatch.setattr(freezer, "freeze_v1", lambda d: (frozen.append(d), real_freeze(d))[1])
    empty = _manager(f"/{top}/empty")
    empty.create()
    empty.destroy(force=True)
    assert frozen == []
    busy = _manager(f"/{top}/busy")
    busy.create()
    child = spawn("sleep", "60")
    move_into_cgroup(busy, child.pid)
    busy.destroy(force=True)
    child.wait(timeout=10)
    assert child.returncode == -signal.SIGKILL
    assert frozen == [busy.paths()["freezer"]]
