"""The `features` document: only what is really implemented (runtime-spec features.md)."""

from __future__ import annotations

from ociruntime import SPEC_VERSION, __version__

HOOKS = ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"]
NAMESPACES = ["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"]


def features() -> dict:
    from ociruntime.rootfs.plan import SUPPORTED_MOUNT_OPTIONS
    from ociruntime.security import lsm
    from ociruntime.security.capabilities import KNOWN_CAPABILITIES

    caps = list(KNOWN_CAPABILITIES)
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
            "apparmor": {"enabled": lsm.apparmor_enabled()},
            "selinux": {"enabled": lsm.selinux_enabled()},
            "intelRdt": {"enabled": False},
            "mountExtensions": {"idmap": {"enabled": False}},
        },
        "annotations": _annotations(),
    }


def _annotations() -> dict:
    notes = {"org.opencontainers.runtime.ociruntime.version": __version__}
    try:
        from ociruntime.security.seccomp import libseccomp_version

        notes["io.github.seccomp.libseccomp.version"] = libseccomp_version()
    except ImportError:
        pass
    return notes


def _seccomp() -> dict:
    try:
        from ociruntime.security.seccomp import features as seccomp_features
    except ImportError:
        return {"enabled": False}
    return seccomp_features()
