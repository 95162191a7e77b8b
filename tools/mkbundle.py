#!/usr/bin/env python3
"""Build an OCI bundle (config.json + rootfs) from Debian's busybox-static.

    mkbundle.py DIR [--config-only]

The rootfs holds /bin/busybox with one symlink per applet, /etc/passwd and /etc/group
(root and a uid 1000 user), /tmp and the /proc, /sys, /dev mount points. config.json comes
from ``ociruntime.spec.default.default_config()`` when that imports, else from the built-in
one below (what ``runc spec`` prints); either way with ``terminal: false``, so the bundle runs
as-is where no console exists (demo, benchmarks, CI). Running it twice gives the same bundle. Tests import this module for ``builtin_config`` and ``build_rootfs``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

BUSYBOX = "/bin/busybox"
REPO = Path(__file__).resolve().parent.parent

PASSWD = "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n"
GROUP = "root:x:0:\nuser:x:1000:\n"

_CAPS = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
_MASKED = [
    "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi",
]
_READONLY = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]


def builtin_config() -> dict[str, Any]:
    """The config `runc spec` writes, with terminal off so it runs without a console."""
    return {
        "ociVersion": "1.0.2-dev",
        "process": {
            "terminal": False,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {k: list(_CAPS) for k in ("bounding", "effective", "permitted", "ambient")},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": True,
        },
        "root": {"path": "rootfs", "readonly": True},
        "hostname": "ociruntime",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
        ],
        "linux": {
            "resources": {"devices": [{"allow": False, "access": "rwm"}]},
            "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")],
            "maskedPaths": list(_MASKED),
            "readonlyPaths": list(_READONLY),
        },
    }


def default_config() -> dict[str, Any]:
    """The runtime's own default when the package is importable, else the built-in one;
    terminal off in both."""
    sys.path.insert(0, str(REPO))
    try:
        from ociruntime.spec.default import default_config as runtime_default
    except ImportError:
        return builtin_config()
    finally:
        sys.path.remove(str(REPO))
    config = runtime_default()
    config.setdefault("process", {})["terminal"] = False
    return config


def applets(busybox: str = BUSYBOX) -> list[str]:
    out = subprocess.run([busybox, "--list"], check=True, capture_output=True, text=True).stdout
    return sorted({name for name in out.split() if name and "/" not in name and name != "busybox"})


def _write_if_changed(path: Path, text: str, mode: int = 0o644) -> None:
    if not path.exists() or path.read_text() != text:
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(text)
        os.replace(tmp, path)
    path.chmod(mode)


def build_rootfs(rootfs: Path, busybox: str = BUSYBOX) -> None:
    """Create or complete a busybox rootfs; safe to run on an existing one."""
    for d, mode in (("bin", 0o755), ("etc", 0o755), ("proc", 0o555), ("sys", 0o555), ("dev", 0o755),
                    ("tmp", 0o1777), ("root", 0o700), ("home/user", 0o755)):
        (rootfs / d).mkdir(parents=True, exist_ok=True)
        (rootfs / d).chmod(mode)
    os.chown(rootfs / "home/user", 1000, 1000)
    target = rootfs / "bin/busybox"
    if not target.exists() or target.stat().st_size != os.stat(busybox).st_size:
        shutil.copy2(busybox, target)
    target.chmod(0o755)
    for name in applets(busybox):
        link = rootfs / "bin" / name
        if link.is_symlink() and os.readlink(link) == "busybox":
            continue
        if link.exists() or link.is_symlink():
            link.unlink()
        link.symlink_to("busybox")
    _write_if_changed(rootfs / "etc/passwd", PASSWD)
    _write_if_changed(rootfs / "etc/group", GROUP)


def write_config(bundle: Path, config: dict[str, Any]) -> None:
    _write_if_changed(bundle / "config.json", json.dumps(config, indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--config-only", action="store_true", help="write config.json, leave rootfs alone")
    args = parser.parse_args(argv)
    bundle: Path = args.bundle.resolve()
    bundle.mkdir(parents=True, exist_ok=True)
    if not args.config_only:
        if not os.path.exists(BUSYBOX):
            print(f"mkbundle: {BUSYBOX} not found (apt-get install busybox-static)", file=sys.stderr)
            return 1
        build_rootfs(bundle / "rootfs")
    write_config(bundle, default_config())
    print(bundle)
    return 0


if __name__ == "__main__":
    sys.exit(main())
