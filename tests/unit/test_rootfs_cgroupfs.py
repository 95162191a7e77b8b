"""Which cgroup hierarchies a "cgroup" mount shows, and from where (pure parsing)."""

from __future__ import annotations

import pytest

from ociruntime.errors import KernelError
from ociruntime.rootfs.cgroupfs import Hierarchy, hierarchies, parse_mountinfo, parse_proc_cgroup

# This machine's shape: hybrid, cpu and cpuacct apart, a co-mounted net_cls,net_prio.
MOUNTINFO = """\
22 1 254:1 / / rw,relatime - ext4 /dev/vda rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
42 31 0:39 / /sys/fs/cgroup/net_cls,net_prio rw,relatime - cgroup cgroup rw,net_cls,net_prio
50 22 0:32 /ctr /mnt/memory\\040copy rw,relatime - cgroup cgroup rw,memory
"""
PROC_CGROUP = """\
10:net_cls,net_prio:/ctr
9:name=systemd:/ctr
4:memory:/ctr
2:cpuacct:/
1:cpu:/ctr
0::/ctr
"""


def test_parse_mountinfo_unescapes_paths() -> None:
    entries = parse_mountinfo(MOUNTINFO)
    assert entries[-1].mount_point == "/mnt/memory copy" and entries[-1].root == "/ctr"
    assert entries[5].super_options == ("rw", "xattr", "name=systemd")


def test_hierarchies_each_once_with_their_host_source() -> None:
    found = hierarchies(parse_mountinfo(MOUNTINFO), parse_proc_cgroup(PROC_CGROUP))
    by_name = {h.name: h for h in found}
    assert [h.name for h in found] == ["unified", "cpu", "cpuacct", "memory", "systemd", "net_cls,net_prio"]
    assert by_name["memory"].host_source == "/sys/fs/cgroup/memory/ctr"  # the /sys/fs/cgroup mount wins
    assert by_name["cpuacct"].host_source == "/sys/fs/cgroup/cpuacct"
    assert by_name["systemd"].controllers == "name=systemd"
    assert by_name["unified"].fstype == "cgroup2" and by_name["unified"].host_source == "/sys/fs/cgroup/unified/ctr"
    assert by_name["net_cls,net_prio"].controllers == "net_cls,net_prio"


def test_hierarchy_without_a_host_mount_is_left_out() -> None:
    found = hierarchies(parse_mountinfo(MOUNTINFO), parse_proc_cgroup("7:blkio:/ctr\n4:memory:/ctr\n"))
    assert [h.name for h in found] == ["memory"]


def test_own_cgroup_outside_the_mounted_root_is_an_error() -> None:
    h = Hierarchy("memory", "/mnt/memory", "cgroup", "memory", own_path="/other", root="/ctr")
    with pytest.raises(KernelError, match="outside the host's mount"):
        _ = h.host_source
