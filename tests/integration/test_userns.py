"""User namespaces with several uid/gid mapping ranges, seen from inside and from the host."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers.containers import SLEEPER, create, inside

UID_MAPS = [{"containerID": 0, "hostID": 100000, "size": 1000},
            {"containerID": 1000, "hostID": 201000, "size": 10}]
GID_MAPS = [{"containerID": 0, "hostID": 300000, "size": 1000},
            {"containerID": 1000, "hostID": 401000, "size": 10}]


@pytest.fixture
def userns_bundle(bundle):
    bundle.set_namespace("user")
    bundle.linux["uidMappings"] = UID_MAPS
    bundle.linux["gidMappings"] = GID_MAPS
    return bundle


def map_lines(text: str) -> list[list[int]]:
    return [[int(x) for x in line.split()] for line in text.strip().splitlines()]


def test_uid_and_gid_maps_from_inside(runtime, userns_bundle, container_id):
    out = inside(runtime, userns_bundle, container_id,
                 "cat /proc/self/uid_map; echo --; cat /proc/self/gid_map; echo --; id -u; id -g")
    uid_map, gid_map, ids = out.split("--\n")
    assert map_lines(uid_map) == [[m["containerID"], m["hostID"], m["size"]] for m in UID_MAPS]
    assert map_lines(gid_map) == [[m["containerID"], m["hostID"], m["size"]] for m in GID_MAPS]
    assert ids.split() == ["0", "0"]


def test_user_namespace_is_new(runtime, userns_bundle, container_id):
    ns = inside(runtime, userns_bundle, container_id, "readlink /proc/self/ns/user").strip()
    assert ns != os.readlink("/proc/self/ns/user")


def test_unmapped_host_root_files_show_as_overflow_ids(runtime, userns_bundle, container_id):
    overflow_uid = int(Path("/proc/sys/kernel/overflowuid").read_text())
    overflow_gid = int(Path("/proc/sys/kernel/overflowgid").read_text())
    out = inside(runtime, userns_bundle, container_id, "stat -c '%u %g' /bin/busybox")
    assert out.split() == [str(overflow_uid), str(overflow_gid)]


def test_container_user_in_second_range_maps_to_its_host_id(runtime, userns_bundle, container_id):
    userns_bundle.process["user"] = {"uid": 1003, "gid": 1004}
    userns_bundle.sh(SLEEPER)
    c = create(runtime, userns_bundle, container_id)
    runtime.start(container_id).ok()
    c.wait_output("ready")
    status = Path(f"/proc/{c.pid}/status").read_text()
    uids = next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1:]
    gids = next(line for line in status.splitlines() if line.startswith("Gid:")).split()[1:]
    assert uids == ["201003"] * 4
    assert gids == ["401004"] * 4
    runtime.delete(container_id, force=True).ok()


def test_root_in_user_namespace_has_full_caps_only_there(runtime, userns_bundle, container_id):
    # Writing the hostname needs CAP_SYS_ADMIN over the uts namespace, which the container
    # root has (its user namespace owns that uts namespace) when the config grants it.
    for kind in ("bounding", "effective", "permitted"):
        userns_bundle.process["capabilities"][kind].append("CAP_SYS_ADMIN")
    out = inside(runtime, userns_bundle, container_id, "hostname renamed && hostname")
    assert out == "renamed\n"


def test_user_and_cgroup_namespaces_root_every_cgroup_path(runtime, userns_bundle, container_id):
    # The init joins its cgroups as host root before it becomes root of the user namespace,
    # and makes the cgroup namespace after the join: every path inside reads "/".
    userns_bundle.set_namespace("cgroup")
    userns_bundle.sh(SLEEPER)
    c = create(runtime, userns_bundle, container_id)
    try:
        host_view = Path(f"/proc/{c.pid}/cgroup").read_text().splitlines()
        assert host_view and all(line.endswith("/" + container_id) for line in host_view), host_view
        runtime.start(container_id).ok()
        c.wait_output("ready")
        for argv in (["cat", "/proc/1/cgroup"], ["cat", "/proc/self/cgroup"]):
            lines = runtime.call("exec", container_id, *argv).ok().stdout_text().splitlines()
            assert len(lines) == len(host_view) and {ln.split(":", 2)[2] for ln in lines} == {"/"}
    finally:
        runtime.delete(container_id, force=True).ok()
