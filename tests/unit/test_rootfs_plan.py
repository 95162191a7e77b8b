"""plan_rootfs on the configs callers really send, and its refusals (no root needed)."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import pytest

from ociruntime.errors import ConfigError
from ociruntime.rootfs.plan import plan_rootfs

NOSUID, NODEV, NOEXEC, RDONLY, BIND, REC = 2, 4, 8, 1, 4096, 16384
STRICTATIME, RELATIME, PRIVATE, SLAVE, SHARED, UNBINDABLE = 1 << 24, 1 << 21, 1 << 18, 1 << 19, 1 << 20, 1 << 17

CONTAINERD_MOUNTS = [
    {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
     "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
    {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
     "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
    {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
     "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
    {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
    {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
    {"destination": "/run", "type": "tmpfs", "source": "tmpfs",
     "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
]
MASKED = ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
          "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/sys/devices/virtual/powercap", "/proc/scsi"]
READONLY = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    (tmp_path / "rootfs").mkdir()
    return tmp_path


def containerd_config() -> dict:
    return {
        "ociVersion": "1.1.0",
        "root": {"path": "rootfs"},
        "mounts": copy.deepcopy(CONTAINERD_MOUNTS),
        "linux": {
            "namespaces": [{"type": t} for t in ("pid", "ipc", "uts", "mount", "network")],
            "maskedPaths": list(MASKED),
            "readonlyPaths": list(READONLY),
        },
    }


def podman_config(userdata: Path, merged: Path) -> dict:
    return {
        "ociVersion": "1.0.2-dev",
        "root": {"path": str(merged)},
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nodev", "noexec", "nosuid"]},
            {"destination": "/etc/hostname", "type": "bind", "source": str(userdata / "hostname"),
             "options": ["bind", "rprivate"]},
            {"destination": "/etc/hosts", "type": "bind", "source": str(userdata / "hosts"),
             "options": ["bind", "rprivate"]},
            {"destination": "/dev/shm", "type": "bind", "source": str(userdata / "shm"),
             "options": ["bind", "rprivate", "nosuid", "noexec", "nodev"]},
            {"destination": "/run/.containerenv", "type": "bind", "source": str(userdata / ".containerenv"),
             "options": ["bind", "rprivate"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ["rprivate", "nosuid", "noexec", "nodev", "relatime", "ro"]},
        ],
        "linux": {
            "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")],
            "maskedPaths": list(MASKED),
            "readonlyPaths": list(READONLY),
        },
    }


def test_containerd_config_plan(bundle: Path) -> None:
    plan = plan_rootfs(containerd_config(), str(bundle))
    assert plan.rootfs == str(bundle / "rootfs")
    assert [m.kind for m in plan.mounts] == ["proc", "tmpfs", "devpts", "tmpfs", "mqueue", "sysfs", "tmpfs"]
    assert [m.destination for m in plan.mounts] == [m["destination"] for m in CONTAINERD_MOUNTS]
    dev, pts, sys_ = plan.mounts[1], plan.mounts[2], plan.mounts[5]
    assert (dev.source, dev.flags, dev.options.data) == ("tmpfs", NOSUID | STRICTATIME, "mode=755,size=65536k")
    assert pts.options.data == "newinstance,ptmxmode=0666,mode=0620,gid=5"
    assert sys_.flags == NOSUID | NOEXEC | NODEV | RDONLY
    assert plan.mounts[3].source == "shm"
    assert plan.setup_dev and plan.mount_ns == "new" and not plan.user_ns and not plan.readonly
    assert plan.masked_paths == tuple(MASKED) and plan.readonly_paths == tuple(READONLY)
    assert plan.root_propagation == 0 and plan.host_mounts == []
    assert [(d.path, d.type, d.major, d.minor, d.mode) for d in plan.devices] == [
        ("/dev/null", "c", 1, 3, 0o666), ("/dev/zero", "c", 1, 5, 0o666), ("/dev/full", "c", 1, 7, 0o666),
        ("/dev/random", "c", 1, 8, 0o666), ("/dev/urandom", "c", 1, 9, 0o666), ("/dev/tty", "c", 5, 0, 0o666),
    ]


def test_podman_config_plan(tmp_path: Path) -> None:
    userdata, merged = tmp_path / "userdata", tmp_path / "merged"
    merged.mkdir()
    userdata.mkdir()
    for name in ("hostname", "hosts", ".containerenv"):
        (userdata / name).write_text("")
    (userdata / "shm").mkdir()
    plan = plan_rootfs(podman_config(userdata, merged), str(userdata))
    assert plan.rootfs == str(merged)
    kinds = [m.kind for m in plan.mounts]
    assert kinds == ["proc", "tmpfs", "sysfs", "devpts", "mqueue", "bind", "bind", "bind", "bind", "cgroup"]
    shm = plan.mounts[7]
    assert shm.source == str(userdata / "shm") and shm.destination == "/dev/shm"
    assert shm.flags == BIND | NOSUID | NOEXEC | NODEV and shm.options.propagation == (PRIVATE | REC,)
    cgroup = plan.mounts[9]
    assert cgroup.flags == NOSUID | NOEXEC | NODEV | RELATIME | RDONLY
    assert cgroup.options.propagation == (PRIVATE | REC,)
    assert plan.setup_dev  # /dev/shm is bound, /dev itself is not


def test_relative_root_and_bind_source_resolve_against_the_bundle(bundle: Path) -> None:
    (bundle / "data").mkdir()
    config = containerd_config()
    config["mounts"] = [{"destination": "/data", "source": "data", "options": ["rbind"]}]
    plan = plan_rootfs(config, str(bundle))
    assert plan.mounts[0].source == str(bundle / "data")
    assert plan.mounts[0].options.is_recursive_bind


def test_root_path_symlink_is_resolved(bundle: Path) -> None:
    os.symlink("rootfs", bundle / "link")
    config = containerd_config()
    config["root"] = {"path": "link", "readonly": True}
    plan = plan_rootfs(config, str(bundle))
    assert plan.rootfs == str(bundle / "rootfs") and plan.readonly


def test_relative_destination_is_relative_to_slash_and_cleaned(bundle: Path) -> None:
    config = containerd_config()
    config["mounts"] = [{"destination": "run/../tmp//x/", "type": "tmpfs", "source": "tmpfs"}]
    assert plan_rootfs(config, str(bundle)).mounts[0].destination == "/tmp/x"


def test_type_bind_without_bind_option_is_a_bind(bundle: Path) -> None:
    config = containerd_config()
    config["mounts"] = [{"destination": "/x", "type": "bind", "source": str(bundle)}]
    m = plan_rootfs(config, str(bundle)).mounts[0]
    assert m.kind == "bind" and m.flags == BIND


def test_remount_and_unknown_type_kinds(bundle: Path) -> None:
    config = containerd_config()
    config["mounts"] = [
        {"destination": "/sys", "options": ["remount", "ro"]},
        {"destination": "/mnt", "type": "overlay", "source": "overlay", "options": ["lowerdir=/a"]},
    ]
    plan = plan_rootfs(config, str(bundle))
    assert [m.kind for m in plan.mounts] == ["remount", "generic"]


def test_bind_of_dev_turns_off_device_setup(bundle: Path) -> None:
    config = containerd_config()
    config["mounts"] = [{"destination": "/dev", "source": "/dev", "options": ["rbind"]}]
    assert not plan_rootfs(config, str(bundle)).setup_dev


def test_linux_devices_replace_defaults_and_keep_their_fields(bundle: Path) -> None:
    config = containerd_config()
    config["linux"]["devices"] = [
        {"path": "/dev/null", "type": "c", "major": 1, "minor": 3, "fileMode": 0o600, "uid": 5, "gid": 6},
        {"path": "/dev/fuse", "type": "u", "major": 10, "minor": 229},
        {"path": "/dev/fifo", "type": "p", "fileMode": 0o100644},
    ]
    devices = plan_rootfs(config, str(bundle)).devices
    paths = [d.path for d in devices]
    assert paths.count("/dev/null") == 1 and paths[-3:] == ["/dev/null", "/dev/fuse", "/dev/fifo"]
    null, fuse, fifo = devices[-3:]
    assert (null.mode, null.uid, null.gid, null.field) == (0o600, 5, 6, "linux.devices[0]")
    assert (fuse.type, fuse.mode) == ("c", 0o666)
    assert (fifo.type, fifo.major, fifo.mode) == ("p", 0, 0o644)


@pytest.mark.parametrize(
    "propagation,flags", [("shared", SHARED), ("slave", SLAVE), ("private", PRIVATE), ("unbindable", UNBINDABLE),
                          ("rprivate", PRIVATE | REC)],
)
def test_rootfs_propagation(bundle: Path, propagation: str, flags: int) -> None:
    config = containerd_config()
    config["linux"]["rootfsPropagation"] = propagation
    assert plan_rootfs(config, str(bundle)).root_propagation == flags


@pytest.mark.parametrize(
    "namespaces,mount_ns,user_ns,cgroup_ns",
    [
        ([{"type": "mount"}], "new", False, False),
        ([{"type": "mount", "path": "/proc/1/ns/mnt"}, {"type": "user"}], "joined", True, False),
        ([{"type": "pid"}, {"type": "cgroup"}], "host", False, True),
    ],
)
def test_namespaces_seen_by_the_plan(bundle: Path, namespaces: list, mount_ns: str, user_ns: bool,
                                     cgroup_ns: bool) -> None:
    config = containerd_config()
    config["linux"]["namespaces"] = namespaces
    plan = plan_rootfs(config, str(bundle), host_mount_dir="/run/x/c1")
    assert (plan.mount_ns, plan.user_ns, plan.cgroup_ns) == (mount_ns, user_ns, cgroup_ns)
    assert plan.host_mounts == (["/run/x/c1/rootfs"] if mount_ns == "host" else [])


def _refusal(bundle: Path, edit) -> ConfigError:  # noqa: ANN001 - a config-editing callable
    config = containerd_config()
    edit(config)
    with pytest.raises(ConfigError) as info:
        plan_rootfs(config, str(bundle))
    return info.value


@pytest.mark.parametrize(
    "edit,path,reason",
    [
        (lambda c: c.update(root={"path": "nope"}), "root.path", '"nope" does not exist'),
        (lambda c: c.pop("root"), "root", "is required"),
        (lambda c: c["root"].update(readonly="yes"), "root.readonly", "must be a boolean"),
        (lambda c: c["mounts"].append({"destination": "/x", "source": "/nonexistent-src", "options": ["bind"]}),
         "mounts[7].source", '"/nonexistent-src" does not exist'),
        (lambda c: c["mounts"].append({"destination": "/x", "options": ["bind"]}),
         "mounts[7].source", "is required for a bind mount"),
        (lambda c: c["mounts"].append({"destination": "/x", "source": "x"}),
         "mounts[7].type", "is required"),
        (lambda c: c["mounts"].append({"source": "tmpfs", "type": "tmpfs"}),
         "mounts[7].destination", "non-empty path"),
        (lambda c: c["mounts"].append({"destination": "/", "type": "tmpfs"}),
         "mounts[7].destination", "root"),
        (lambda c: c["mounts"].append({"destination": "/proc", "type": "tmpfs"}),
         "mounts[7].destination", "not of type proc"),
        (lambda c: c["mounts"].append({"destination": "/proc/sys/kernel", "type": "tmpfs"}),
         "mounts[7].destination", "inside /proc"),
        (lambda c: c["mounts"].append({"destination": "/x", "type": "proc", "options": ["ridmap"]}),
         "mounts[7].options[0]", "id-mapped"),
        (lambda c: c["mounts"].append({"destination": "/x", "type": "ext4", "options": ["tmpcopyup"]}),
         "mounts[7].options", "tmpcopyup"),
        (lambda c: c["mounts"].append({"destination": "/x", "type": "tmpfs", "uidMappings": [{"size": 1}]}),
         "mounts[7].uidMappings", "id-mapped"),
        (lambda c: c["linux"].update(maskedPaths=["/ok", "relative"]),
         "linux.maskedPaths[1]", "'relative' is not an absolute path"),
        (lambda c: c["linux"].update(readonlyPaths=["readonly-relpath"]),
         "linux.readonlyPaths[0]", "not an absolute path"),
        (lambda c: c["linux"].update(rootfsPropagation="sideways"),
         "linux.rootfsPropagation", "is not one of shared, slave, private, unbindable"),
        (lambda c: c["linux"].update(devices=[{"path": "dev/x", "type": "c", "major": 1, "minor": 1}]),
         "linux.devices[0].path", "not an absolute path"),
        (lambda c: c["linux"].update(devices=[{"path": "/dev/x", "type": "q", "major": 1, "minor": 1}]),
         "linux.devices[0].type", "is not one of c, b, u, p"),
        (lambda c: c["linux"].update(devices=[{"path": "/dev/x", "type": "b", "minor": 1}]),
         "linux.devices[0].major", "is required"),
        (lambda c: c["linux"].update(devices=[{"path": "/dev/x", "type": "c", "major": 1, "minor": -1}]),
         "linux.devices[0].minor", "non-negative"),
        (lambda c: c["linux"].update(devices=[{"path": "/dev/x", "type": "c", "major": 1, "minor": 1, "uid": 2**32}]),
         "linux.devices[0].uid", "not a valid id"),
    ],
)
def test_refusals_name_the_field(bundle: Path, edit, path: str, reason: str) -> None:  # noqa: ANN001
    error = _refusal(bundle, edit)
    assert error.path == path
    assert reason in error.reason
    assert str(error) == f"config.json: {path}: {error.reason}"


@pytest.mark.parametrize("propagation", ["private", "rprivate"])
def test_private_rootfs_propagation_needs_pivot_root(bundle: Path, propagation: str) -> None:
    config = containerd_config()
    config["linux"]["rootfsPropagation"] = propagation
    with pytest.raises(ConfigError) as info:
        plan_rootfs(config, str(bundle), no_pivot=True)
    assert info.value.path == "linux.rootfsPropagation" and "not safe without pivot_root" in info.value.reason
    assert plan_rootfs(config, str(bundle)).root_propagation  # fine with pivot_root


def test_plan_does_not_touch_the_filesystem(bundle: Path) -> None:
    before = sorted(os.walk(bundle))
    plan_rootfs(containerd_config(), str(bundle))
    assert sorted(os.walk(bundle)) == before
