"""The container's filesystem: root, mounts and their options, devices, masked and
read-only paths, seen from inside."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.containers import create, inside


def mountinfo_entry(mountinfo: str, mount_point: str) -> tuple[set[str], set[str], str]:
    """(per-mount options, super options, fstype) of the last mount at ``mount_point``."""
    found = None
    for line in mountinfo.splitlines():
        left, _, right = line.partition(" - ")
        parts = left.split()
        if parts[4] == mount_point:
            fstype, _source, super_opts = right.split()[:3]
            found = (set(parts[5].split(",")), set(super_opts.split(",")), fstype)
    assert found is not None, f"{mount_point} not mounted:\n{mountinfo}"
    return found


# --- root ----------------------------------------------------------------------------------

def test_readonly_root(runtime, bundle, container_id):
    bundle.config["root"]["readonly"] = True
    out = inside(runtime, bundle, container_id,
                 "touch /newfile 2>&1; echo rc=$?; touch /dev/shm/ok && echo shm-writable")
    assert "Read-only file system" in out and "rc=1" in out
    assert "shm-writable" in out
    assert not (bundle.rootfs / "newfile").exists()


def test_writable_root_writes_into_the_bundle_rootfs(runtime, bundle, container_id):
    bundle.config["root"]["readonly"] = False
    inside(runtime, bundle, container_id, "echo data > /newfile")
    assert (bundle.rootfs / "newfile").read_text() == "data\n"


def test_root_is_the_bundle_rootfs(runtime, bundle, container_id):
    (bundle.rootfs / "marker").write_text(container_id)
    assert inside(runtime, bundle, container_id, "cat /marker; ls /") .startswith(container_id)


def test_absolute_root_path(runtime, bundle, container_id):
    bundle.config["root"]["path"] = str(bundle.rootfs)
    (bundle.rootfs / "marker").write_text("absolute")
    assert inside(runtime, bundle, container_id, "cat /marker") == "absolute"


def test_no_pivot(runtime, bundle, container_id):
    (bundle.rootfs / "marker").write_text("no-pivot")
    bundle.sh("cat /marker")
    c = create(runtime, bundle, container_id, "--no-pivot")
    runtime.start(container_id).ok()
    from helpers.procs import wait_exit
    assert wait_exit(c.pid).exit_code == 0
    assert c.output() == "no-pivot"
    runtime.delete(container_id).ok()


# --- mounts --------------------------------------------------------------------------------

@pytest.fixture
def host_dir(test_dir) -> Path:
    path = test_dir / "host-dir"
    path.mkdir()
    (path / "from-host").write_text("host data\n")
    return path


def test_bind_mount_directory_read_write(runtime, bundle, container_id, host_dir):
    bundle.add_mount("/mnt/data", None, str(host_dir), ["bind"])
    out = inside(runtime, bundle, container_id, "cat /mnt/data/from-host; echo back > /mnt/data/from-container")
    assert out == "host data\n"
    assert (host_dir / "from-container").read_text() == "back\n"


def test_bind_mount_file(runtime, bundle, container_id, host_dir):
    bundle.add_mount("/etc/injected", "bind", str(host_dir / "from-host"), ["bind", "ro"])
    assert inside(runtime, bundle, container_id, "cat /etc/injected") == "host data\n"


def test_read_only_bind_mount(runtime, bundle, container_id, host_dir):
    bundle.add_mount("/mnt/data", "bind", str(host_dir), ["bind", "ro"])
    out = inside(runtime, bundle, container_id,
                 "cat /mnt/data/from-host; touch /mnt/data/new 2>&1; grep ' /mnt/data ' /proc/self/mountinfo")
    assert out.startswith("host data\n")
    assert "Read-only file system" in out
    assert not (host_dir / "new").exists()
    per_mount, _, _ = mountinfo_entry(out.split("\n", 2)[2], "/mnt/data")
    assert "ro" in per_mount


@pytest.fixture
def host_dir_with_submount(host_dir) -> Iterator[Path]:
    sub = host_dir / "sub"
    sub.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "submount", str(sub)], check=True)
    (sub / "in-submount").write_text("nested\n")
    yield host_dir
    subprocess.run(["umount", str(sub)], check=True)


def test_rbind_brings_submounts_and_bind_does_not(runtime, bundle, make_id, host_dir_with_submount):
    bundle.add_mount("/rbind", None, str(host_dir_with_submount), ["rbind"])
    bundle.add_mount("/bind", None, str(host_dir_with_submount), ["bind"])
    out = inside(runtime, bundle, make_id(), "cat /rbind/sub/in-submount; ls /bind/sub | wc -l")
    assert out.split("\n")[:2] == ["nested", "0"]


def test_tmpfs_with_options(runtime, bundle, container_id):
    bundle.add_mount("/scratch", "tmpfs", "tmpfs", ["nosuid", "nodev", "noexec", "size=2m", "mode=700"])
    out = inside(runtime, bundle, container_id,
                 "stat -c %a /scratch; cp /bin/busybox /scratch/bb && /scratch/bb true; echo rc=$?; "
                 "cat /proc/self/mountinfo")
    lines = out.split("\n", 2)
    assert lines[0] == "700"
    assert lines[1].endswith("rc=126")  # noexec
    per_mount, super_opts, fstype = mountinfo_entry(lines[2], "/scratch")
    assert fstype == "tmpfs"
    assert {"nosuid", "nodev", "noexec"} <= per_mount
    assert {"size=2048k", "mode=700"} <= super_opts


def test_read_only_tmpfs(runtime, bundle, container_id):
    bundle.add_mount("/scratch", "tmpfs", "tmpfs", ["ro", "size=1m"])
    out = inside(runtime, bundle, container_id, "touch /scratch/x 2>&1; echo rc=$?")
    assert "Read-only file system" in out and "rc=1" in out


def test_mount_target_is_created_and_mounts_apply_in_order(runtime, bundle, container_id, host_dir):
    bundle.add_mount("/deep/a/b", "tmpfs", "tmpfs", ["size=1m"])
    bundle.add_mount("/deep/a/b/c", None, str(host_dir), ["bind"])  # on top of the tmpfs
    out = inside(runtime, bundle, container_id, "cat /deep/a/b/c/from-host; grep -c ' /deep/a/b' /proc/self/mountinfo")
    assert out.split() == ["host", "data", "2"]
    assert not (bundle.rootfs / "deep/a/b/c/from-host").exists()


def test_mount_destination_symlink_cannot_escape_the_rootfs(runtime, bundle, container_id, test_dir):
    outside = test_dir / "outside"
    outside.mkdir()
    (bundle.rootfs / "escape").symlink_to(outside)  # absolute link to a host directory
    bundle.add_mount("/escape", "tmpfs", "tmpfs", ["size=1m"])
    inside(runtime, bundle, container_id, "echo x > /escape/written")
    assert list(outside.iterdir()) == []


def test_proc_sys_and_devpts_mounts(runtime, bundle, container_id):
    mountinfo = inside(runtime, bundle, container_id, "cat /proc/self/mountinfo")
    assert mountinfo_entry(mountinfo, "/proc")[2] == "proc"
    sys_opts, _, sys_type = mountinfo_entry(mountinfo, "/sys")
    assert sys_type == "sysfs" and "ro" in sys_opts
    assert mountinfo_entry(mountinfo, "/dev/pts")[2] == "devpts"
    assert mountinfo_entry(mountinfo, "/dev/mqueue")[2] == "mqueue"
    assert mountinfo_entry(mountinfo, "/dev/shm")[2] == "tmpfs"


# --- devices -------------------------------------------------------------------------------

DEFAULT_DEVICES = {"/dev/null": (1, 3), "/dev/zero": (1, 5), "/dev/full": (1, 7), "/dev/random": (1, 8),
                   "/dev/urandom": (1, 9), "/dev/tty": (5, 0)}


def test_default_devices(runtime, bundle, container_id):
    script = "; ".join(f"stat -c '%n %F %t %T' {d}" for d in DEFAULT_DEVICES)
    script += "; echo x > /dev/null && head -c 4 /dev/zero | wc -c"
    lines = inside(runtime, bundle, container_id, script).splitlines()
    for line, (path, (major, minor)) in zip(lines, DEFAULT_DEVICES.items(), strict=False):
        assert line == f"{path} character special file {major:x} {minor:x}"
    assert lines[-1].strip() == "4"


def test_default_dev_symlinks(runtime, bundle, container_id):
    out = inside(runtime, bundle, container_id,
                 "for l in fd stdin stdout stderr ptmx; do echo $l $(readlink /dev/$l); done")
    links = dict(line.split() for line in out.splitlines())
    assert links == {"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1",
                     "stderr": "/proc/self/fd/2", "ptmx": "pts/ptmx"}


def test_linux_devices_creates_the_node(runtime, bundle, container_id):
    bundle.linux["devices"] = [{"path": "/dev/custom-null", "type": "c", "major": 1, "minor": 3,
                                "fileMode": 0o640, "uid": 0, "gid": 0}]
    bundle.linux["resources"]["devices"].append({"allow": True, "type": "c", "major": 1, "minor": 3,
                                                 "access": "rwm"})
    out = inside(runtime, bundle, container_id, "stat -c '%F %t %T %a %u %g' /dev/custom-null; "
                 "echo x > /dev/custom-null && echo writable")
    assert out.splitlines() == ["character special file 1 3 640 0 0", "writable"]


def test_device_cgroup_denies_what_is_not_allowed(runtime, bundle, container_id):
    bundle.linux["devices"] = [{"path": "/dev/custom-mem", "type": "c", "major": 1, "minor": 1,
                                "fileMode": 0o600}]
    out = inside(runtime, bundle, container_id, "head -c 1 /dev/custom-mem 2>&1; echo rc=$?")
    assert "Operation not permitted" in out and "rc=1" in out


# --- masked and read-only paths ------------------------------------------------------------

def test_default_masked_paths(runtime, bundle, container_id):
    # Of the default masked paths, these exist on this kernel (no /proc/kcore here).
    assert Path("/proc/timer_list").stat().st_size or Path("/proc/timer_list").read_text()
    assert os.listdir("/sys/firmware")
    out = inside(runtime, bundle, container_id, "wc -c < /proc/timer_list; ls /sys/firmware | wc -l")
    assert out.split() == ["0", "0"]


def test_masked_file_and_directory(runtime, bundle, container_id):
    (bundle.rootfs / "etc/secret").write_text("password")
    (bundle.rootfs / "secret-dir").mkdir()
    (bundle.rootfs / "secret-dir/key").write_text("private")
    bundle.linux["maskedPaths"] = ["/etc/secret", "/secret-dir", "/does/not/exist"]
    out = inside(runtime, bundle, container_id,
                 "cat /etc/secret | wc -c; ls -A /secret-dir | wc -l; touch /secret-dir/x 2>&1; echo rc=$?")
    lines = out.splitlines()
    assert lines[:2] == ["0", "0"]
    assert "Read-only file system" in out and lines[-1] == "rc=1"
    assert (bundle.rootfs / "secret-dir/key").read_text() == "private"  # masked, not removed


def test_default_readonly_paths(runtime, bundle, container_id):
    out = inside(runtime, bundle, container_id, "{ echo 1 > /proc/sys/kernel/ns_last_pid; } 2>&1; echo rc=$?")
    assert "Read-only file system" in out and "rc=1" in out


def test_readonly_path_in_rootfs(runtime, bundle, container_id):
    (bundle.rootfs / "frozen").mkdir()
    (bundle.rootfs / "thawed").mkdir()
    bundle.linux["readonlyPaths"] = ["/frozen"]
    out = inside(runtime, bundle, container_id,
                 "touch /frozen/x 2>&1; echo rc=$?; touch /thawed/x && echo thawed-ok")
    assert "Read-only file system" in out and "rc=1" in out and "thawed-ok" in out
    assert not (bundle.rootfs / "frozen/x").exists() and (bundle.rootfs / "thawed/x").exists()


def test_mountinfo_of_masked_proc_file_is_a_bind_of_dev_null(runtime, bundle, container_id):
    out = inside(runtime, bundle, container_id, "stat -c '%t %T' /proc/timer_list")
    assert out.split() == ["1", "3"]


# --- propagation, recursive read-only, cgroup mount -----------------------------------------

@pytest.fixture
def shared_host_dir(host_dir) -> Iterator[Path]:
    """host_dir as a shared mount point, so mounts made under it later can propagate."""
    subprocess.run(["mount", "--bind", str(host_dir), str(host_dir)], check=True)
    subprocess.run(["mount", "--make-shared", str(host_dir)], check=True)
    yield host_dir
    subprocess.run(["umount", "-R", str(host_dir)], check=True)


@pytest.mark.parametrize("propagation, propagates", [("rslave", True), ("rshared", True), ("rprivate", False)])
def test_bind_mount_propagation(runtime, bundle, container_id, shared_host_dir, propagation, propagates):
    bundle.add_mount("/shared", None, str(shared_host_dir), ["rbind", propagation])
    bundle.sh("echo ready; while [ ! -e /shared/go ]; do sleep 0.02; done; ls /shared/sub")
    c = create(runtime, bundle, container_id)
    runtime.start(container_id).ok()
    c.wait_output("ready")
    (shared_host_dir / "sub").mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "propagated", str(shared_host_dir / "sub")],
                   check=True)
    (shared_host_dir / "sub/only-in-the-tmpfs").write_text("")
    (shared_host_dir / "go").write_text("")
    from helpers.procs import wait_exit
    assert wait_exit(c.pid).exit_code == 0
    assert ("only-in-the-tmpfs" in c.output()) == propagates, c.output()
    runtime.delete(container_id).ok()


def test_recursive_read_only_bind(runtime, bundle, container_id, host_dir_with_submount):
    bundle.add_mount("/rro", None, str(host_dir_with_submount), ["rbind", "rro"])
    out = inside(runtime, bundle, container_id,
                 "touch /rro/x 2>&1; touch /rro/sub/x 2>&1; cat /rro/sub/in-submount")
    assert out.count("Read-only file system") == 2 and out.endswith("nested\n")


def test_cgroup_mount_shows_the_containers_own_cgroups_read_only(runtime, bundle, container_id):
    mountinfo = inside(runtime, bundle, container_id, "cat /proc/self/mountinfo")
    controllers = {}
    for line in mountinfo.splitlines():
        left, _, right = line.partition(" - ")
        parts = left.split()
        if right.split()[0] in ("cgroup", "cgroup2") and parts[4].startswith("/sys/fs/cgroup"):
            controllers[parts[4]] = (parts[3], set(parts[5].split(",")))
    assert controllers, mountinfo
    for mount_point, (root, options) in controllers.items():
        assert "ro" in options, mount_point
    memory = controllers.get("/sys/fs/cgroup/memory") or controllers.get("/sys/fs/cgroup")
    assert memory is not None and memory[0].endswith(container_id), controllers
