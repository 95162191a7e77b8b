"""v1 write order against a v1-shaped tree of files, and the CLI helpers."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ociruntime.cgroups import cgfile, cli_support, setters_v1
from ociruntime.cgroups.cgfile import CONFIG_FIELDS
from ociruntime.cgroups.layout import Hierarchy, Layout
from ociruntime.cgroups.setup import manager_for
from ociruntime.errors import ConfigError, UsageError


@pytest.fixture
def writes(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    log: list[tuple[str, str]] = []
    real_write, real_try = cgfile.write, cgfile.try_write
    monkeypatch.setattr(cgfile, "write", lambda d, n, v, fl, fs: (log.append((n, v)), real_write(d, n, v, fl, fs))[1])
    monkeypatch.setattr(cgfile, "try_write", lambda d, n, v: (log.append((n, v)), real_try(d, n, v))[1])
    return log


def _files(d: Path, files: dict[str, str]) -> Path:
    d.mkdir(exist_ok=True)
    for name, text in files.items():
        (d / name).write_text(text)
    return d


MEMORY_FILES = {"memory.limit_in_bytes": "9223372036854771712\n", "memory.memsw.limit_in_bytes": "",
                "memory.soft_limit_in_bytes": "", "memory.swappiness": "", "memory.oom_control": "",
                "memory.use_hierarchy": "", "memory.kmem.limit_in_bytes": "",
                "memory.kmem.tcp.limit_in_bytes": ""}


def test_memory_v1_raises_swap_before_limit_when_growing(tmp_path: Path, writes: list) -> None:
    d = _files(tmp_path / "m", {**MEMORY_FILES, "memory.limit_in_bytes": "50\n"})
    setters_v1.memory(str(d), {"limit": 100, "swap": 200}, CONFIG_FIELDS, updating=True)
    # memsw may never drop below the memory limit: the new swap (200) exceeds the current
    # limit (50), so swap goes first.
    assert writes == [("memory.memsw.limit_in_bytes", "200"), ("memory.limit_in_bytes", "100")]
    (d / "memory.limit_in_bytes").write_text("500\n")    # shrinking below the current limit
    writes.clear()
    setters_v1.memory(str(d), {"limit": 100, "swap": 200}, CONFIG_FIELDS, updating=True)
    assert writes == [("memory.limit_in_bytes", "100"), ("memory.memsw.limit_in_bytes", "200")]


def test_memory_v1_all_fields(tmp_path: Path, writes: list) -> None:
    d = _files(tmp_path / "m", MEMORY_FILES)
    setters_v1.memory(str(d), {"limit": -1, "reservation": 7, "kernel": 8, "kernelTCP": 9,
                               "swappiness": 0, "disableOOMKiller": True, "useHierarchy": True},
                      CONFIG_FIELDS, updating=False)
    assert dict(writes) == {
        "memory.memsw.limit_in_bytes": "-1",   # limit -1 with swap unset unlimits swap too
        "memory.limit_in_bytes": "-1", "memory.soft_limit_in_bytes": "7",
        "memory.kmem.limit_in_bytes": "8", "memory.kmem.tcp.limit_in_bytes": "9",
        "memory.swappiness": "0", "memory.oom_control": "1", "memory.use_hierarchy": "1"}


def test_blkio_v1_uses_bfq_files_when_no_cfq(tmp_path: Path) -> None:
    d = _files(tmp_path / "b", {"blkio.bfq.weight": "", "blkio.bfq.weight_device": "",
                                "blkio.throttle.read_bps_device": ""})
    setters_v1.blkio(str(d), {"weight": 300, "weightDevice": [{"major": 8, "minor": 0, "weight": 500}],
                              "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 600}]},
                     CONFIG_FIELDS, updating=False)
    assert (d / "blkio.bfq.weight").read_text() == "300"
    assert (d / "blkio.bfq.weight_device").read_text() == "8:0 500"
    assert (d / "blkio.throttle.read_bps_device").read_text() == "8:0 600"
    with pytest.raises(ConfigError) as exc:
        setters_v1.blkio(str(d), {"leafWeight": 10}, CONFIG_FIELDS, updating=False)
    assert str(exc.value) == (f"config.json: linux.resources.blockIO.leafWeight: cannot set '10': "
                              f"{d}/blkio.leaf_weight: No such file or directory")


def test_cpu_v1_shares_read_back_and_rt(tmp_path: Path, writes: list) -> None:
    d = _files(tmp_path / "c", {"cpu.shares": "", "cpu.cfs_period_us": "", "cpu.cfs_quota_us": "",
                                "cpu.cfs_burst_us": "", "cpu.rt_period_us": "", "cpu.rt_runtime_us": "",
                                "cpu.idle": ""})
    setters_v1.cpu(str(d), {"shares": 1024, "quota": 5000, "period": 10000, "burst": 100,
                            "realtimePeriod": 1000000, "realtimeRuntime": 950000, "idle": 1},
                   CONFIG_FIELDS, updating=False)
    assert [n for n, _ in writes] == ["cpu.shares", "cpu.cfs_period_us", "cpu.cfs_quota_us",
                                      "cpu.cfs_burst_us", "cpu.idle", "cpu.rt_period_us", "cpu.rt_runtime_us"]


def test_cpu_v1_idle_and_burst_default_need_no_file(tmp_path: Path) -> None:
    d = _files(tmp_path / "c", {"cpu.cfs_quota_us": ""})   # a kernel before 5.14/5.15
    setters_v1.cpu(str(d), {"quota": 5000, "burst": 0, "idle": 0}, CONFIG_FIELDS, updating=False)
    assert (d / "cpu.cfs_quota_us").read_text() == "5000"
    for key, value, name in (("idle", 1, "cpu.idle"), ("burst", 10, "cpu.cfs_burst_us")):
        with pytest.raises(ConfigError) as exc:
            setters_v1.cpu(str(d), {key: value}, CONFIG_FIELDS, updating=False)
        assert str(exc.value) == (f"config.json: linux.resources.cpu.{key}: cannot set '{value}': "
                                  f"{d}/{name}: No such file or directory")


def test_v1_network_without_hierarchy_is_an_error(tmp_path: Path) -> None:
    root = tmp_path / "memory"
    root.mkdir()
    layout = Layout((Hierarchy(str(root), "/", ("memory",)),), None)
    m = manager_for({"linux": {"cgroupsPath": "/x", "resources": {"network": {"priorities": [
        {"name": "eth0", "priority": 5}]}}}}, "c", layout=layout, own={})
    with pytest.raises(ConfigError) as exc:
        m.create()
    assert str(exc.value) == ("config.json: linux.resources.network.priorities: no net_prio cgroup "
                              "hierarchy is mounted on this host (cgroup v2 has no net_prio controller)")
    assert list(root.iterdir()) == []
    m2 = manager_for({"linux": {"cgroupsPath": "/x", "resources": {"unified": {"pids.max": "1"}}}},
                     "c", layout=layout, own={})
    with pytest.raises(ConfigError, match=r"unified: cgroup v2 is not mounted on this host"):
        m2.create()


# --- CLI helpers ----------------------------------------------------------------------

@pytest.mark.parametrize(("text", "value"), [
    ("100", 100), ("1k", 1024), ("1KiB", 1024), ("512m", 512 << 20), ("1.5g", 3 << 29),
    ("2GB", 2 << 30), ("-1", -1),
])
def test_ram_in_bytes(text: str, value: int) -> None:
    assert cli_support.ram_in_bytes(text) == value


def test_resources_from_update_flags() -> None:
    got = cli_support.resources_from_flags({
        "memory": "256m", "memory-swap": "-1", "memory-reservation": "128m", "kernel-memory": "1g",
        "kernel-memory-tcp": "64m", "cpu-shares": "512", "cpu-quota": "-1", "cpu-period": "100000",
        "cpu-rt-runtime": "950", "cpu-rt-period": "1000", "cpuset-cpus": "0-1", "cpuset-mems": "0",
        "pids-limit": "99", "blkio-weight": "300"})
    assert got == {
        "memory": {"limit": 256 << 20, "swap": -1, "reservation": 128 << 20, "kernel": 1 << 30,
                   "kernelTCP": 64 << 20},
        "cpu": {"shares": 512, "quota": -1, "period": 100000, "realtimeRuntime": 950,
                "realtimePeriod": 1000, "cpus": "0-1", "mems": "0"},
        "pids": {"limit": 99}, "blockIO": {"weight": 300}}
    with pytest.raises(UsageError, match="--cpu-period"):
        cli_support.resources_from_flags({"cpu-period": "-5"})
    with pytest.raises(UsageError, match="--memory"):
        cli_support.resources_from_flags({"memory": "lots"})


@pytest.mark.parametrize(("text", "seconds"), [
    ("5s", 5.0), ("500ms", 0.5), ("1m30s", 90.0), ("1.5h", 5400.0), ("250us", 0.00025)])
def test_parse_duration(text: str, seconds: float) -> None:
    assert cli_support.parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("bad", ["", "5", "s", "-1s", "0s", "5x", "1s2"])
def test_parse_duration_rejects(bad: str) -> None:
    with pytest.raises(UsageError, match="invalid duration"):
        cli_support.parse_duration(bad)


def test_hugetlb_moved_to_v1_uses_v1_files(tmp_path: Path) -> None:
    """When hugetlb is mounted as a v1 hierarchy (a conformance harness may move it), the
    limit goes to hugetlb.<size>.limit_in_bytes (and .rsvd) there, not to cgroup2."""
    huge = _files(tmp_path / "hugetlb", {})
    _files(huge / "x", {"hugetlb.2MB.limit_in_bytes": "", "hugetlb.2MB.rsvd.limit_in_bytes": ""})
    unified = _files(tmp_path / "unified", {"cgroup.subtree_control": ""})
    layout = Layout((Hierarchy(str(huge), "/", ("hugetlb",)),), Hierarchy(str(unified), "/", ()))
    m = manager_for({"linux": {"cgroupsPath": "/x", "resources": {
        "hugepageLimits": [{"pageSize": "2MB", "limit": 2097152}]}}}, "c", layout=layout, own={},
        unified_controllers=frozenset())
    assert m.paths()["hugetlb"] == str(huge / "x") and m.unified_serves == []
    m._apply(m.resources, CONFIG_FIELDS, updating=False)
    assert (huge / "x" / "hugetlb.2MB.limit_in_bytes").read_text() == "2097152"
    assert (huge / "x" / "hugetlb.2MB.rsvd.limit_in_bytes").read_text() == "2097152"
    assert (unified / "cgroup.subtree_control").read_text() == ""


def test_ps_json_is_a_bare_array() -> None:
    assert cli_support.ps_json([30, 4, 7]) == "[4,7,30]"
    assert json.loads(cli_support.ps_json([])) == []


def test_ps_table_keeps_header_and_our_pids() -> None:
    me = os.getpid()
    out = cli_support.ps_table([me], ["-ef"]).splitlines()
    assert out[0].split()[:2] == ["UID", "PID"]
    assert len(out) == 2 and out[1].split()[1] == str(me)


def test_network_and_rdma_v1_files(tmp_path: Path, writes: list) -> None:
    """net_cls,net_prio (co-mounted, as hosts mount them) and a v1 rdma hierarchy."""
    net = _files(tmp_path / "net_cls,net_prio", {})
    _files(net / "x", {"net_cls.classid": "", "net_prio.ifpriomap": ""})
    rdma = _files(tmp_path / "rdma", {})
    _files(rdma / "x", {"rdma.max": ""})
    layout = Layout((Hierarchy(str(net), "/", ("net_cls", "net_prio")), Hierarchy(str(rdma), "/", ("rdma",))),
                    None)
    m = manager_for({"linux": {"cgroupsPath": "/x", "resources": {
        "network": {"classID": 1048577, "priorities": [{"name": "lo", "priority": 2},
                                                       {"name": "eth0", "priority": 5}]},
        "rdma": {"mlx4_0": {"hcaHandles": 2}}}}}, "c", layout=layout, own={})
    assert m.paths()["net_prio"] == m.paths()["net_cls"] == str(net / "x")
    m._apply(m.resources, CONFIG_FIELDS, updating=False)
    assert (net / "x" / "net_cls.classid").read_text() == "1048577"
    assert [v for n, v in writes if n == "net_prio.ifpriomap"] == ["lo 2", "eth0 5"]   # one per write
    assert (rdma / "x" / "rdma.max").read_text() == "mlx4_0 hca_handle=2"
