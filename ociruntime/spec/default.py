"""The config.json that `ociruntime spec` writes: runc's example, runnable as-is on a
busybox rootfs (``root.path = "rootfs"``, ``args = ["sh"]``, a terminal)."""

from __future__ import annotations

import os

from ociruntime import SPEC_VERSION

DEFAULT_CAPABILITIES = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]

MASKED_PATHS = [
    "/proc/acpi",
    "/proc/asound",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/sys/firmware",
    "/proc/scsi",
]

READONLY_PATHS = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]


def _mounts() -> list[dict]:
    return [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {
            "destination": "/dev",
            "type": "tmpfs",
            "source": "tmpfs",
            "options": ["nosuid", "strictatime", "mode=755", "size=65536k"],
        },
        {
            "destination": "/dev/pts",
            "type": "devpts",
            "source": "devpts",
            "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
        },
        {
            "destination": "/dev/shm",
            "type": "tmpfs",
            "source": "shm",
            "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
        },
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
        {
            "destination": "/sys/fs/cgroup",
            "type": "cgroup",
            "source": "cgroup",
            "options": ["nosuid", "noexec", "nodev", "relatime", "ro"],
        },
    ]


def _cgroup2_unified() -> bool:
    # Like runc: a cgroup namespace by default only on a pure cgroup v2 host.
    return os.path.exists("/sys/fs/cgroup/cgroup.controllers")


def _rootful() -> dict:
    namespaces = [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")]
    if _cgroup2_unified():
        namespaces.append({"type": "cgroup"})
    return {
        "ociVersion": SPEC_VERSION,
        "process": {
            "terminal": True,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {name: list(DEFAULT_CAPABILITIES) for name in ("bounding", "effective", "permitted", "ambient")},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": True,
        },
        "root": {"path": "rootfs", "readonly": True},
        "hostname": "ociruntime",
        "mounts": _mounts(),
        "linux": {
            "resources": {"devices": [{"allow": False, "access": "rwm"}]},
            "namespaces": namespaces,
            "maskedPaths": list(MASKED_PATHS),
            "readonlyPaths": list(READONLY_PATHS),
        },
    }


def _to_rootless(spec: dict) -> None:
    """runc's ToRootless: a user namespace mapping only the caller, no network namespace,
    /sys bind-mounted (sysfs cannot be mounted without owning the netns), no uid=/gid=
    mount options, and no cgroup resources."""
    linux = spec["linux"]
    kept = [ns for ns in linux["namespaces"] if ns["type"] not in ("network", "user")]
    linux["namespaces"] = kept + [{"type": "user"}]
    linux["uidMappings"] = [{"containerID": 0, "hostID": os.geteuid(), "size": 1}]
    linux["gidMappings"] = [{"containerID": 0, "hostID": os.getegid(), "size": 1}]
    mounts = []
    for mount in spec["mounts"]:
        if os.path.normpath(mount["destination"]) == "/sys":
            mounts.append(
                {
                    "destination": "/sys",
                    "type": "none",
                    "source": "/sys",
                    "options": ["rbind", "nosuid", "noexec", "nodev", "ro"],
                }
            )
            continue
        if "options" in mount:
            mount["options"] = [o for o in mount["options"] if not o.startswith(("uid=", "gid="))]
        mounts.append(mount)
    spec["mounts"] = mounts
    del linux["resources"]


def default_config(rootless: bool = False) -> dict:
    """A fresh config.json document (a new dict each call)."""
    spec = _rootful()
    if rootless:
        _to_rootless(spec)
    return spec
