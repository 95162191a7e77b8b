"""Import, before pivot_root / setns(mnt), every module the container processes may import
lazily afterwards: once inside the container's mount namespace (or a user namespace that
cannot read the runtime's tree) the runtime's files are gone.

This runs in stage 1 on the critical path of every `create` and `exec`, so it imports what
the init (for exec: the exec stage, EXEC_PACKAGES) can reach, not more: `json`, `re`,
`ctypes` and `socket` are not among them (the channel and hooks speak JSON through
state.jsonfast, sockets are `_socket`'s), and the seccomp compiler and the cgroup BPF
loader run in the parent. The console modules, which do
need `socket`, are imported by stage 1 only for a terminal.
"""

from __future__ import annotations

import os

_PACKAGES = ("linux", "security", "rootfs", "hooks", "process")
# `exec` joins a container whose mounts are made and runs no hooks: no rootfs, no hooks.
EXEC_PACKAGES = ("linux", "security", "process")
# Imported by the process that forks, before any namespace change, when it is needed at all.
# linux.seccomp is libseccomp, used by the compiler (security.seccomp) only; rootfs.hostside
# is what `delete` undoes on the host.
_PARENT_ONLY = frozenset({"ociruntime.security.seccomp", "ociruntime.linux.seccomp",
                          "ociruntime.process.exec_child", "ociruntime.process.preload",
                          "ociruntime.linux.bpf", "ociruntime.rootfs.hostside"})
# Needed in the init only to take the seccomp listener from `start` (SCMP_ACT_NOTIFY).
SECCOMP_AGENT = "ociruntime.security.seccomp_agent"
_STDLIB = ("select", "_socket", "stat", "fcntl", "struct", "_signal", "errno", "pwd", "grp")


def preload_for_container(packages: tuple[str, ...] = _PACKAGES, skip: frozenset[str] = frozenset()) -> None:
    base = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    # __import__, not importlib.import_module: the importlib package imports warnings.
    for name in _STDLIB:
        __import__(name)
    __import__("ociruntime.log")
    for package in packages:
        for entry in sorted(os.listdir(os.path.join(base, package))):
            if entry.endswith(".py") and not entry.startswith("_"):
                module = f"ociruntime.{package}.{entry[:-3]}"
                if module not in _PARENT_ONLY and module not in skip:
                    __import__(module)
            elif entry == "__init__.py":
                __import__(f"ociruntime.{package}")
