"""cgroup v2 conversions against a v2-shaped tree of files (not a kernel: plain files).

The tree has the control files a cgroup v2 directory has; a write to a file that is not
there fails just as on cgroupfs. `writes` records every write in order, for the files
the kernel takes several writes to (io.max, subtree_control).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from ociruntime.cgroups import bpf_devices, cgfile, convert
from ociruntime.cgroups import manager as manager_module
from ociruntime.cgroups.layout import Hierarchy, Layout
from ociruntime.cgroups.setup import manager_for
from ociruntime.errors import ConfigError

CONTROLLERS = frozenset({"cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma"})
LEAF_FILES = {
    "cgroup.procs": "", "cgroup.freeze": "0\n", "cgroup.events": "populated 0\nfrozen 0\n",
    "cgroup.subtree_control": "", "cgroup.controllers": " ".join(sorted(CONTROLLERS)),
    "cpu.weight": "100\n", "cpu.max": "max 100000\n", "cpu.max.burst": "0\n", "cpu.idle": "0\n",
    "cpu.stat": "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 7\n"
                "nr_throttled 2\nthrottled_usec 30\n",
    "memory.max": "max\n", "memory.low": "0\n", "memory.swap.max": "max\n",
    "memory.current": "4096\n", "memory.swap.current": "8192\n", "memory.peak": "65536\n",
    "memory.events": "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n",
    "memory.stat": "anon 4096\nfile 12288\n",
    "pids.max": "max\n", "pids.current": "2\n",
    "io.weight": "default 100\n", "io.max": "", "io.stat": "254:0 rbytes=4096 wbytes=0 rios=1 wios=0\n",
    "cpuset.cpus": "", "cpuset.mems": "", "cpuset.cpus.effective": "0-1\n", "cpuset.mems.effective": "0\n",
    "hugetlb.2MB.max": "max\n", "hugetlb.2MB.rsvd.max": "max\n", "hugetlb.2MB.current": "0\n",
    "hugetlb.2MB.events": "max 0\n", "rdma.max": "",
}


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "cg"
    root.mkdir()
    (root / "cgroup.controllers").write_text(" ".join(sorted(CONTROLLERS)) + "\n")
    (root / "cgroup.subtree_control").write_text("")
    leaf = root / "ctr"
    leaf.mkdir()
    for name, text in LEAF_FILES.items():
        (leaf / name).write_text(text)
    return root


@pytest.fixture
def writes(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Record (file name, value) of every control-file write, in order."""
    log: list[tuple[str, str]] = []
    real_write, real_try = cgfile.write, cgfile.try_write

    def write(d, name, value, field, fields):
        log.append((name, value))
        return real_write(d, name, value, field, fields)

    def try_write(d, name, value):
        log.append((name, value))
        return real_try(d, name, value)

    monkeypatch.setattr(cgfile, "write", write)
    monkeypatch.setattr(cgfile, "try_write", try_write)
    return log


@pytest.fixture
def bpf(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, bytes]]:
    """Records the device programs instead of loading them: the tree is plain files, which
    bpf(2) cannot attach to (tests/native/test_cgroups_bpf.py attaches for real)."""
    attached: list[tuple[str, bytes]] = []

    def load_and_attach(d, emu, field="devices", fields=None):
        attached.append((d, bpf_devices.program(emu)))
        return len(attached)

    monkeypatch.setattr(bpf_devices, "load_and_attach", load_and_attach)
    return attached


def _manager(root: Path, resources: dict):
    layout = Layout((), Hierarchy(str(root), "/", ()))
    config = {"linux": {"cgroupsPath": "/ctr", "resources": resources}}
    return manager_for(config, "c1", layout=layout, own={}, unified_controllers=CONTROLLERS)


def _read(root: Path, name: str) -> str:
    return (root / "ctr" / name).read_text()


@pytest.mark.parametrize(("shares", "weight"), [
    (0, 0), (1, 1), (2, 1), (1024, 100), (262144, 10000), (300000, 10000),
    (512, 59), (2048, 174), (100, 17),
])
def test_cpu_shares_to_weight_quadratic(shares: int, weight: int) -> None:
    assert convert.cpu_shares_to_weight(shares) == weight


def test_cpu_weight_monotonic_over_range() -> None:
    values = [convert.cpu_shares_to_weight(s) for s in range(2, 262145, 97)]
    assert values == sorted(values) and values[0] == 1 and values[-1] <= 10000


def test_create_writes_converted_values(tree: Path, writes: list, bpf: list) -> None:
    m = _manager(tree, {
        "cpu": {"shares": 1024, "quota": 50000, "period": 200000, "burst": 1000, "idle": 0,
                "cpus": "1", "mems": "0"},
        "memory": {"limit": 104857600, "swap": 157286400, "reservation": 52428800},
        "pids": {"limit": 42},
        "blockIO": {"weight": 500, "throttleReadBpsDevice": [{"major": 254, "minor": 0, "rate": 1048576}],
                    "throttleWriteIOPSDevice": [{"major": 254, "minor": 0, "rate": 300}]},
        "hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}],
        "rdma": {"mlx5_1": {"hcaHandles": 3, "hcaObjects": 10000}},
    })
    m.create()
    assert _read(tree, "cpu.weight") == "100"
    assert _read(tree, "cpu.max") == "50000 200000"
    assert _read(tree, "cpu.max.burst") == "1000"
    assert _read(tree, "cpuset.cpus") == "1" and _read(tree, "cpuset.mems") == "0"
    assert _read(tree, "memory.max") == "104857600"
    assert _read(tree, "memory.swap.max") == str(157286400 - 104857600)
    assert _read(tree, "memory.low") == "52428800"
    assert _read(tree, "pids.max") == "42"
    # No io.bfq.weight in this tree: io.weight gets the [10..1000] -> [1..10000] conversion.
    assert _read(tree, "io.weight") == str(1 + (500 - 10) * 9999 // 990) == "4950"
    assert [v for n, v in writes if n == "io.max"] == ["254:0 rbps=1048576", "254:0 wiops=300"]
    assert _read(tree, "hugetlb.2MB.max") == "4194304" == _read(tree, "hugetlb.2MB.rsvd.max")
    assert _read(tree, "rdma.max") == "mlx5_1 hca_handle=3 hca_object=10000"
    # Pure v2: every available controller is enabled in the parent, as runc does.
    enabled = sorted(v for n, v in writes if n == "cgroup.subtree_control")
    assert enabled == sorted("+" + c for c in CONTROLLERS)
    # Devices go through an eBPF program attached to the container's directory.
    assert bpf and bpf[0][0] == str(tree / "ctr")
    assert m.created == []   # the leaf already existed: not ours to remove


def test_memory_swap_edge_cases(tree: Path, bpf: list) -> None:
    _manager(tree, {"memory": {"limit": 1 << 20, "swap": 1 << 20}}).create()
    assert _read(tree, "memory.swap.max") == "0"          # swap == limit: no swap
    _manager(tree, {"memory": {"limit": -1}}).create()
    assert _read(tree, "memory.max") == "max" and _read(tree, "memory.swap.max") == "max"
    os.unlink(tree / "ctr" / "memory.swap.max")             # no swap accounting
    _manager(tree, {"memory": {"limit": -1, "swap": -1}}).create()
    assert _read(tree, "memory.max") == "max"


@pytest.mark.parametrize(("memory", "message"), [
    ({"swap": 1 << 20}, "unable to set swap limit without memory limit"),
    ({"limit": 2 << 20, "swap": 1 << 20}, "memory+swap limit should be >= memory limit"),
    ({"limit": 1 << 20, "swappiness": 10}, "no per-cgroup swappiness"),
    ({"disableOOMKiller": True}, "cannot disable the OOM killer"),
])
def test_memory_values_v2_cannot_apply(tree: Path, bpf: list, memory: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)) as exc:
        _manager(tree, {"memory": memory}).create()
    assert str(exc.value).startswith("config.json: linux.resources.memory.")
    assert _read(tree, "memory.max") == "max\n"   # checked before anything was written


def test_cpu_max_forms(tree: Path, bpf: list) -> None:
    _manager(tree, {"cpu": {"quota": -1}}).create()
    assert _read(tree, "cpu.max") == "max 100000"
    _manager(tree, {"cpu": {"period": 250000}}).create()
    assert _read(tree, "cpu.max") == "max 250000"


def test_cpu_idle_and_burst_default_need_no_file(tree: Path, bpf: list) -> None:
    """A kernel without cpu.idle / cpu.max.burst is fine for the default 0, and an error
    naming the field and the file for anything else."""
    (tree / "ctr" / "cpu.idle").unlink()
    (tree / "ctr" / "cpu.max.burst").unlink()
    _manager(tree, {"cpu": {"idle": 0, "burst": 0, "quota": 1000}}).create()
    assert _read(tree, "cpu.max") == "1000 100000"
    with pytest.raises(ConfigError) as exc:
        _manager(tree, {"cpu": {"idle": 1}}).create()
    assert str(exc.value) == (f"config.json: linux.resources.cpu.idle: cannot set '1': "
                              f"{tree}/ctr/cpu.idle: No such file or directory")
    with pytest.raises(ConfigError, match=r"linux\.resources\.cpu\.burst: cannot set '5': .*/cpu\.max\.burst"):
        _manager(tree, {"cpu": {"burst": 5}}).create()


def test_realtime_and_leaf_weight_rejected(tree: Path, bpf: list) -> None:
    with pytest.raises(ConfigError, match=r"linux\.resources\.cpu\.realtimeRuntime: .*realtime"):
        _manager(tree, {"cpu": {"realtimeRuntime": 1000}}).create()
    with pytest.raises(ConfigError, match=r"blockIO\.leafWeight"):
        _manager(tree, {"blockIO": {"leafWeight": 100}}).create()


def test_bfq_weight_used_as_is(tree: Path, bpf: list) -> None:
    (tree / "ctr" / "io.bfq.weight").write_text("default 100\n")
    _manager(tree, {"blockIO": {"weight": 300, "weightDevice": [{"major": 8, "minor": 0, "weight": 700}]}}).create()
    assert _read(tree, "io.bfq.weight") == "8:0 700"


def test_unified_written_verbatim_line_by_line(tree: Path, writes: list, bpf: list) -> None:
    _manager(tree, {"unified": {"io.max": "254:0 rbps=2097152 wiops=120\n253:0 rbps=1", "pids.max": "7"}}).create()
    assert [v for n, v in writes if n == "io.max"] == ["254:0 rbps=2097152 wiops=120", "253:0 rbps=1"]
    assert _read(tree, "pids.max") == "7"


@pytest.mark.parametrize(("key", "message"), [
    ("io/../x", "no slashes"), ("nodot", "CONTROLLER.PARAMETER"),
    ("net_cls.classid", "controller 'net_cls' is not available"),
])
def test_unified_key_checks(tree: Path, bpf: list, key: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as exc:
        _manager(tree, {"unified": {key: "1"}}).create()
    assert f"linux.resources.unified.{key}" in str(exc.value)


def test_missing_control_file_names_field_and_file(tree: Path, bpf: list) -> None:
    with pytest.raises(ConfigError) as exc:
        _manager(tree, {"hugepageLimits": [{"pageSize": "1GB", "limit": 0}]}).create()
    # 1GB is a page size of this host, but the tree has no hugetlb.1GB.max.
    assert str(exc.value) == (
        f"config.json: linux.resources.hugepageLimits[0].limit: cannot set '0': "
        f"{tree}/ctr/hugetlb.1GB.max: No such file or directory")


def test_unknown_hugepage_size(tree: Path, bpf: list) -> None:
    with pytest.raises(ConfigError, match=r"hugepageLimits\[0\]\.pageSize: '3MB' is not a huge page size"):
        _manager(tree, {"hugepageLimits": [{"pageSize": "3MB", "limit": 1}]}).create()


def test_network_has_no_v2_controller(tree: Path, bpf: list) -> None:
    with pytest.raises(ConfigError, match=r"network\.classID: no net_cls cgroup hierarchy"):
        _manager(tree, {"network": {"classID": 1048577}}).create()
    _manager(tree, {"network": {"classID": 0, "priorities": []}}).create()   # defaults: fine


def test_device_program_failure_names_field_and_dir_and_undoes(tree: Path) -> None:
    (tree / "new").mkdir()
    layout = Layout((), Hierarchy(str(tree), "/", ()))
    m = manager_for({"linux": {"cgroupsPath": "/new/ctr"}}, "c", layout=layout, own={},
                    unified_controllers=CONTROLLERS)
    # A plain directory is no cgroup: bpf(2) refuses (EPERM without root, EBADF with).
    with pytest.raises(ConfigError, match=r"linux\.resources\.devices: cannot .* device program.* "
                                          + re.escape(str(tree / "new" / "ctr"))):
        m.create()
    assert not (tree / "new" / "ctr").exists()   # undone: the dir create() made is gone


def test_device_program_replaced_on_update_only_with_devices(tree: Path, bpf: list) -> None:
    m = _manager(tree, {})
    m.create()
    assert len(bpf) == 1
    m.update({"pids": {"limit": 5}})
    assert len(bpf) == 1
    m.update({"devices": [{"allow": True, "type": "c", "major": 1, "minor": 11, "access": "r"}]})
    assert len(bpf) == 2 and bpf[1][1] != bpf[0][1]
    assert m.resources["devices"][0]["minor"] == 11


def test_create_undoes_dirs_on_error(tree: Path, bpf: list) -> None:
    layout = Layout((), Hierarchy(str(tree), "/", ()))
    m = manager_for({"linux": {"cgroupsPath": "/a/b", "resources": {"pids": {"limit": 3}}}}, "c",
                    layout=layout, own={}, unified_controllers=CONTROLLERS)
    with pytest.raises(ConfigError, match=r"pids\.limit: cannot set '3': .*/a/b/pids\.max"):
        m.create()   # a/b is a plain new directory: it has no pids.max
    assert not (tree / "a").exists()


def test_update_merges_and_writes_touched_groups(tree: Path, writes: list, bpf: list) -> None:
    m = _manager(tree, {"memory": {"limit": 100 << 20}, "pids": {"limit": 10}})
    m.create()
    writes.clear()
    m.update({"memory": {"swap": 300 << 20}})
    assert _read(tree, "memory.swap.max") == str(200 << 20)   # knows the earlier limit
    assert ("pids.max", "10") not in writes                    # untouched group not rewritten
    assert m.resources["memory"] == {"limit": 100 << 20, "swap": 300 << 20}
    m.update({"cpu": {"period": 50000, "quota": 25000}})
    writes.clear()
    m.update({"cpu": {"quota": 10000}, "memory": {"reservation": 1 << 20}})
    assert _read(tree, "cpu.max") == "10000 50000"            # keeps the period given before
    # reservation alone: no limit rewrite (subtree_control here holds only its last write,
    # so the enabling is retried; the kernel's file would list them all)
    assert [n for n, _ in writes if n != "cgroup.subtree_control"] == ["memory.low", "cpu.max"]
    with pytest.raises(ConfigError) as exc:
        m.update({"memory": {"swappiness": 5}})
    assert str(exc.value).startswith("resources: memory.swappiness: ")


def test_check_before_update(tree: Path, bpf: list) -> None:
    m = _manager(tree, {"memory": {"checkBeforeUpdate": True}})
    m.create()
    with pytest.raises(ConfigError, match="rejecting memory limit 4000 below current usage 4096"):
        m.update({"memory": {"limit": 4000}})
    m.update({"memory": {"limit": 8192}})
    assert _read(tree, "memory.max") == "8192"


def test_freeze_thaw_v2(tree: Path, bpf: list) -> None:
    m = _manager(tree, {})
    m.create()
    assert not m.is_frozen()
    (tree / "ctr" / "cgroup.events").write_text("populated 1\nfrozen 1\n")  # as the kernel reports
    m.freeze()
    assert _read(tree, "cgroup.freeze") == "1" and m.is_frozen()
    m.thaw()
    assert _read(tree, "cgroup.freeze") == "0" and not m.is_frozen()


def test_stats_v2_match_files(tree: Path, bpf: list) -> None:
    m = _manager(tree, {})
    m.create()
    s = m.stats()
    assert s["cpu"] == {"usage": {"total": 1500000, "kernel": 500000, "user": 1000000},
                        "throttling": {"periods": 7, "throttledPeriods": 2, "throttledTime": 30000}}
    assert s["memory"]["usage"] == {"limit": (1 << 64) - 1, "usage": 4096, "max": 65536, "failcnt": 3}
    assert s["memory"]["swap"]["usage"] == 4096 + 8192
    assert s["memory"]["cache"] == 12288 and s["memory"]["raw"] == {"anon": 4096, "file": 12288}
    assert s["pids"] == {"current": 2}
    assert s["cpuset"]["cpus"] == [0, 1] and s["cpuset"]["mems"] == [0]
    assert s["blkio"] == {"ioServiceBytesRecursive": [{"major": 254, "op": "Read", "value": 4096},
                                                      {"major": 254, "op": "Write"}],
                          "ioServicedRecursive": [{"major": 254, "op": "Read", "value": 1},
                                                  {"major": 254, "op": "Write"}]}
    assert s["hugetlb"]["2MB"] == {"failcnt": 0}
    assert s["network_interfaces"] is None and s["intel_rdt"] == {}
    assert m.oom_kill_count() == 1


def test_oom_watcher_v2_counts_oom_kills_in_memory_events(tree: Path, bpf: list) -> None:
    """v2: the watcher polls memory.events for POLLPRI (kernfs notifies on change) and
    reports the growth of its oom_kill count. The wake-up itself needs a kernel whose
    cgroup2 serves memory (not this hybrid host); the counting is checked here."""
    import select

    from ociruntime.cgroups.cli_support import OomWatcher

    m = _manager(tree, {"memory": {"limit": 1 << 20}})
    m.create()
    watcher = OomWatcher(m)
    try:
        assert watcher.fd >= 0 and watcher.poll_flags() & select.POLLPRI
        assert watcher.new_ooms() == 0          # the one from before it started is not new
        (tree / "ctr" / "memory.events").write_text("low 0\nhigh 0\nmax 5\noom 3\noom_kill 3\n")
        assert watcher.new_ooms() == 2
        assert watcher.new_ooms() == 0
    finally:
        watcher.close()
    assert watcher.fd == -1


def test_join_names_the_v2_dir_and_pids_walks_sub_cgroups(tree: Path, bpf: list) -> None:
    m = _manager(tree, {})
    m.create()
    join = m.join()
    assert join.unified_dir == str(tree / "ctr") and join.v1_dirs == []
    assert join.to_message() == {"v1": [], "unified": str(tree / "ctr"), "clone_into": join.clone_into}
    (tree / "ctr" / "cgroup.procs").write_text("12345\n")
    (tree / "ctr" / "sub").mkdir()
    (tree / "ctr" / "sub" / "cgroup.procs").write_text("7\n9\n")
    assert m.pids() == [7, 9, 12345]


@pytest.mark.parametrize(("release", "clone_into"), [((5, 15), False), ((6, 3), False), ((6, 4), True), ((6, 18), True)])
def test_a_v2_cpuset_is_joined_by_birth_only_from_linux_6_4(tree: Path, bpf: list, monkeypatch,
                                                             release: tuple[int, int], clone_into: bool) -> None:
    # Before 6.4 a child forked into a v2 cpuset kept its parent's CPUs and memory nodes.
    monkeypatch.setattr(manager_module, "kernel_release", lambda: release)
    m = _manager(tree, {})
    assert "cpuset" in m.unified_serves
    assert m.join().clone_into is clone_into
    m.unified_serves = [c for c in m.unified_serves if c != "cpuset"]
    assert m.join().clone_into is True


def test_kernel_release_reads_major_and_minor(monkeypatch) -> None:
    class Uname:
        def __init__(self, release: str) -> None:
            self.release = release

    for release, want in (("6.18.44-fc-v595", (6, 18)), ("5.4.0-150-generic", (5, 4)), ("6.4rc1", (6, 4)),
                          ("weird", (0, 0))):
        monkeypatch.setattr(manager_module.posix, "uname", lambda r=release: Uname(r))
        assert manager_module.kernel_release() == want


def test_destroy_removes_only_created(tree: Path, bpf: list) -> None:
    layout = Layout((), Hierarchy(str(tree), "/", ()))
    (tree / "pre").mkdir()
    m = manager_for({"linux": {"cgroupsPath": "/pre/x/y"}}, "c", layout=layout, own={},
                    unified_controllers=frozenset())
    m.create()
    assert m.created == [str(tree / "pre" / "x"), str(tree / "pre" / "x" / "y")]
    m.destroy()
    assert (tree / "pre").is_dir() and not (tree / "pre" / "x").exists()
    m.destroy()   # idempotent
