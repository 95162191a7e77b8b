"""The `features` document: only what is really implemented (runtime-spec features.md)."""

from __future__ import annotations

import os

from ociruntime import SPEC_VERSION, __version__

HOOKS = ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"]
NAMESPACES = ["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"]


def features() -> dict:
    import prctl

    from ociruntime.rootfs.plan import SUPPORTED_MOUNT_OPTIONS

    caps = sorted(f"CAP_{name.upper()}" for name in prctl.ALL_CAP_NAMES)
    return {
        "ociVersionMin": "1.0.0",
        "ociVersionMax": SPEC_VERSION,
        "hooks": HOOKS,
        "mountOptions": sorted(SUPPORTED_MOUNT_OPTIONS),
        "linux": {
            "namespaces": NAMESPACES,
            "capabilities": caps,
            "cgroup": {"v1": True, "v2": True, "systemd": False, "systemdUser": False, "rdma": True},
            "seccomp": _seccomp(),
            "apparmor": {"enabled": os.path.exists("/sys/module/apparmor")},
            "selinux": {"enabled": os.path.exists("/sys/fs/selinux")},
            "intelRdt": {"enabled": False},
            "mountExtensions": {"idmap": {"enabled": False}},
        },
        "annotations": {"org.opencontainers.runtime.ociruntime.version": __version__},
    }


def _seccomp() -> dict:
    try:
        from ociruntime.security.seccomp import features as seccomp_features
    except ImportError:
        return {"enabled": False}
    return seccomp_features()
