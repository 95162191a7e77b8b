"""unshare(2), setns(2) and namespace identification (NS_GET_NSTYPE)."""

from __future__ import annotations

from ociruntime.linux._lib import check, lib

CLONE_NEWNS: int = lib.CLONE_NEWNS
CLONE_NEWUTS: int = lib.CLONE_NEWUTS
CLONE_NEWIPC: int = lib.CLONE_NEWIPC
CLONE_NEWUSER: int = lib.CLONE_NEWUSER
CLONE_NEWPID: int = lib.CLONE_NEWPID
CLONE_NEWNET: int = lib.CLONE_NEWNET
CLONE_NEWCGROUP: int = lib.CLONE_NEWCGROUP
CLONE_NEWTIME: int = lib.CLONE_NEWTIME

# OCI linux.namespaces[].type -> CLONE_NEW* flag
NAMESPACE_FLAGS: dict[str, int] = {
    "pid": CLONE_NEWPID,
    "network": CLONE_NEWNET,
    "mount": CLONE_NEWNS,
    "ipc": CLONE_NEWIPC,
    "uts": CLONE_NEWUTS,
    "user": CLONE_NEWUSER,
    "cgroup": CLONE_NEWCGROUP,
    "time": CLONE_NEWTIME,
}

# OCI linux.namespaces[].type -> name under /proc/<pid>/ns/
PROC_NS_NAMES: dict[str, str] = {
    "pid": "pid",
    "network": "net",
    "mount": "mnt",
    "ipc": "ipc",
    "uts": "uts",
    "user": "user",
    "cgroup": "cgroup",
    "time": "time",
}

# CLONE_NEW* flag -> OCI type, for messages
NAMESPACE_TYPES: dict[int, str] = {flag: name for name, flag in NAMESPACE_FLAGS.items()}


def _describe(flags: int) -> str:
    names = [name for flag, name in NAMESPACE_TYPES.items() if flags & flag]
    rest = flags & ~sum(NAMESPACE_TYPES)
    if rest:
        names.append(f"{rest:#x}")
    return "|".join(names) or "0"


def unshare(flags: int) -> None:
    """unshare(2) the namespaces in flags (CLONE_NEW*)."""
    ret = lib.ocr_unshare(flags)
    if ret < 0:
        check(ret, f"unshare {_describe(flags)}")


def setns(fd: int, nstype: int = 0) -> None:
    """setns(2) into the namespace fd; nstype 0 accepts any type."""
    ret = lib.ocr_setns(fd, nstype)
    if ret < 0:
        check(ret, f"setns fd {fd} type {_describe(nstype) if nstype else 'any'}")


def namespace_type(fd: int) -> int:
    """The CLONE_NEW* type of a namespace fd; OSError (ENOTTY) if fd is not one."""
    ret = lib.ocr_ns_get_type(fd)
    return check(ret, f"namespace type of fd {fd} (NS_GET_NSTYPE)")
