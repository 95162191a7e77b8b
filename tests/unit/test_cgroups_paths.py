"""cgroupsPath -> directories: mountinfo parsing, absolute/relative/absent paths, systemd."""

from __future__ import annotations

import pytest

from ociruntime.cgroups import paths
from ociruntime.cgroups.layout import Hierarchy, Layout, parse_mountinfo
from ociruntime.cgroups.setup import manager_for
from ociruntime.errors import ConfigError, UnsupportedError

# This machine's mountinfo (hybrid), plus a duplicate bind of the memory hierarchy.
HYBRID = """\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
99 23 0:32 / /mnt/memory\\040copy rw,relatime - cgroup cgroup rw,memory
"""

OWN = {"cpu": "/", "cpuacct": "/", "cpuset": "/", "memory": "/process_api/abc",
       "devices": "/", "freezer": "/", "blkio": "/", "pids": "/", "name=systemd": "/",
       "unified": "/"}


def test_mountinfo_hybrid_hierarchies_and_dedup() -> None:
    layout = parse_mountinfo(HYBRID)
    assert layout.mode == "hybrid"
    assert [h.key() for h in layout.v1] == [
        "cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids", "name=systemd"]
    # The second mount of the memory hierarchy (same device 0:32) is not a new hierarchy.
    assert layout.v1_by_controller()["memory"].mountpoint == "/sys/fs/cgroup/memory"
    assert layout.unified == Hierarchy("/sys/fs/cgroup/unified", "/", ())


def test_mountinfo_comounted_v2_only_and_escapes() -> None:
    text = ("1 0 0:1 / /c/cpu\\040acct rw - cgroup cgroup rw,cpu,cpuacct,release_agent=/x\n"
            "2 0 0:2 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n")
    layout = parse_mountinfo(text)
    assert layout.v1[0] == Hierarchy("/c/cpu acct", "/", ("cpu", "cpuacct"))
    assert parse_mountinfo(text.splitlines()[1]).mode == "v2"
    assert parse_mountinfo(text.splitlines()[0]).mode == "v1"


def test_proc_cgroup_parse() -> None:
    text = "9:name=systemd:/\n4:memory:/process_api/abc\n1:cpu,cpuacct:/x\n0::/user.slice\n"
    assert paths.parse_proc_cgroup(text) == {
        "name=systemd": "/", "memory": "/process_api/abc", "cpu": "/x", "cpuacct": "/x",
        "unified": "/user.slice"}


@pytest.mark.parametrize(("raw", "clean"), [
    ("/a/b/", "/a/b"), ("/a/../b", "/b"), ("a/b", "a/b"), ("../../etc/x", "etc/x"),
    ("a/../../b", "b"), ("", ""),
])
def test_clean_path(raw: str, clean: str) -> None:
    assert paths.clean_path(raw) == clean


def _dirs(cgroups_path: str | None, layout: Layout, own: dict | None = None) -> dict:
    config = {"linux": {"cgroupsPath": cgroups_path}} if cgroups_path is not None else {}
    m = manager_for(config, "ctr1", layout=layout, own=own or OWN,
                    unified_controllers=frozenset({"hugetlb"}))
    return m.paths()


def test_absolute_path_in_every_hierarchy() -> None:
    got = _dirs("/tests/ctr", parse_mountinfo(HYBRID))
    assert got["memory"] == "/sys/fs/cgroup/memory/tests/ctr"
    assert got["name=systemd"] == "/sys/fs/cgroup/systemd/tests/ctr"
    assert got["unified"] == "/sys/fs/cgroup/unified/tests/ctr"
    # hugetlb is not a v1 hierarchy here, so the cgroup2 directory serves it.
    assert got["hugetlb"] == "/sys/fs/cgroup/unified/tests/ctr"
    assert len({d for d in got.values()}) == 10


def test_relative_path_below_own_cgroup() -> None:
    got = _dirs("sub/ctr", parse_mountinfo(HYBRID))
    assert got["memory"] == "/sys/fs/cgroup/memory/process_api/abc/sub/ctr"
    assert got["cpu"] == "/sys/fs/cgroup/cpu/sub/ctr"
    assert got["unified"] == "/sys/fs/cgroup/unified/sub/ctr"


def test_absent_path_is_the_id_relative() -> None:
    got = _dirs(None, parse_mountinfo(HYBRID))
    assert got["memory"] == "/sys/fs/cgroup/memory/process_api/abc/ctr1"
    assert got["pids"] == "/sys/fs/cgroup/pids/ctr1"


def test_relative_on_pure_v2_uses_parent_of_own_cgroup() -> None:
    layout = parse_mountinfo("2 0 0:2 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n")
    got = _dirs("ctr", layout, {"unified": "/user.slice/session-1.scope"})
    assert got["unified"] == "/sys/fs/cgroup/user.slice/ctr"
    assert _dirs("/abs", layout)["unified"] == "/sys/fs/cgroup/abs"


def test_relative_respects_mounted_subtree_root() -> None:
    # Inside a cgroup namespace-less container the hierarchy root may be a subtree.
    h = Hierarchy("/sys/fs/cgroup/memory", "/docker/x", ("memory",))
    own = {"memory": "/docker/x/inner"}
    assert paths.hierarchy_dir(h, "c", own, pure_v2=False) == "/sys/fs/cgroup/memory/inner/c"


@pytest.mark.parametrize(("cgroups_path", "expected"), [
    ("system.slice:docker:abc", "/system.slice/docker-abc.scope"),
    ("user-1000.slice:runc:x", "/user.slice/user-1000.slice/runc-x.scope"),
    ("a-b-c.slice:p:n", "/a.slice/a-b.slice/a-b-c.slice/p-n.scope"),
    ("-.slice:p:n", "/p-n.scope"),
    (":crio:id9", "/system.slice/crio-id9.scope"),
    ("machine.slice:ignored:kubepods-pod1.slice", "/machine.slice/kubepods-pod1.slice"),
    ("", "/system.slice/runc-ctr1.scope"),
])
def test_systemd_path_mapping(cgroups_path: str, expected: str) -> None:
    layout = parse_mountinfo(HYBRID)
    m = manager_for({"linux": {"cgroupsPath": cgroups_path}}, "ctr1", systemd=True, layout=layout,
                    unified_controllers=frozenset())
    assert m.paths()["memory"] == "/sys/fs/cgroup/memory" + expected
    assert m.paths()["unified"] == "/sys/fs/cgroup/unified" + expected
    assert m.to_state()["driver"] == "systemd"


@pytest.mark.parametrize("bad", ["a:b", "a:b:c:d", "noslice:p:n", "a--b.slice:p:n", "x.slice:p:"])
def test_systemd_path_errors(bad: str) -> None:
    with pytest.raises(ConfigError) as exc:
        manager_for({"linux": {"cgroupsPath": bad}}, "c", systemd=True,
                    layout=parse_mountinfo(HYBRID), unified_controllers=frozenset())
    assert str(exc.value).startswith("config.json: linux.cgroupsPath: ")


def test_systemd_create_refused_without_systemd(tmp_path) -> None:
    layout = Layout((), Hierarchy(str(tmp_path), "/", ()))
    m = manager_for({"linux": {"cgroupsPath": "system.slice:p:n"}}, "c", systemd=True,
                    layout=layout, unified_controllers=frozenset())
    with pytest.raises(UnsupportedError, match="systemd cgroup driver: systemd is not running"):
        m.create()
    assert list(tmp_path.iterdir()) == []   # nothing was made


def test_state_round_trip() -> None:
    from ociruntime.cgroups import manager_from_state

    m = manager_for({"linux": {"cgroupsPath": "/x", "resources": {"pids": {"limit": 5}},
                               "devices": [{"path": "/dev/zero"}]}},
                    "id7", layout=parse_mountinfo(HYBRID), unified_controllers=frozenset({"hugetlb"}))
    state = m.to_state()
    again = manager_from_state(state)
    assert again.to_state() == state
    assert again.paths() == m.paths()
    assert state["unified_serves"] == ["hugetlb"] and state["device_paths"] == ["/dev/zero"]
