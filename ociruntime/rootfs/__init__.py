"""The container's root filesystem.

plan_rootfs (pure, in the runtime before anything is touched), then in the container init,
in its mount namespace, as root: prepare_rootfs (mounts, devices; before pivot_root and the
createContainer hooks), enter_rootfs (pivot_root), finalize_rootfs (readonly and masked
paths, read-only root, propagation). cleanup_host_side / cleanup_host_mounts undo the
mounts a container without a mount namespace leaves in the runtime's namespace.

The set-up modules import the C extension, so they load only when called.
"""

from __future__ import annotations

from ociruntime.rootfs.plan import RootfsPlan, plan_rootfs

__all__ = [
    "RootfsPlan",
    "plan_rootfs",
    "prepare_rootfs",
    "enter_rootfs",
    "finalize_rootfs",
    "release_rootfs",
    "cleanup_host_side",
    "cleanup_host_mounts",
]


def prepare_rootfs(plan: RootfsPlan) -> None:
    from ociruntime.rootfs.prepare import prepare_rootfs as run

    run(plan)


def enter_rootfs(plan: RootfsPlan) -> None:
    from ociruntime.rootfs.enter import enter_rootfs as run

    run(plan)


def finalize_rootfs(plan: RootfsPlan) -> None:
    from ociruntime.rootfs.finalize import finalize_rootfs as run

    run(plan)


def release_rootfs(plan: RootfsPlan) -> None:
    """Close the fds the set-up holds (finalize_rootfs does it; for error paths)."""
    from ociruntime.rootfs.finalize import release

    release(plan)


def cleanup_host_side(plan: RootfsPlan) -> None:
    from ociruntime.rootfs.hostside import cleanup_host_side as run

    run(plan)


def cleanup_host_mounts(host_mount_dir: str) -> None:
    from ociruntime.rootfs.hostside import cleanup_host_mounts as run

    run(host_mount_dir)
