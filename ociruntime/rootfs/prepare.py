"""prepare_rootfs: in the container's mount namespace, build the container's tree.

Order (runc's prepareRootfs): "/" made rslave so nothing we mount reaches the host; the
rootfs bind-mounted onto itself (pivot_root needs a mount point); every config.json mount
in order; then, unless /dev is a bind mount, the devices, /dev/ptmx and the /dev symlinks.
Leaves the cwd at the rootfs. Nothing is made read-only yet (finalize_rootfs does it).
"""

from __future__ import annotations

import os

from ociruntime.errors import KernelError, UnsupportedError
from ociruntime.linux import mounts

# After pivot_root the host's files are gone, imports included: load now everything that
# enter_rootfs and finalize_rootfs run.
from ociruntime.rootfs import cgroupfs, enter, finalize  # noqa: F401
from ociruntime.rootfs.devices import create_devices, setup_dev_links
from ociruntime.rootfs.errors import setup_error
from ociruntime.rootfs.mounting import MountContext, mount_entry
from ociruntime.rootfs.options import MS_BIND, MS_REC, MS_SLAVE
from ociruntime.rootfs.plan import RootfsPlan, host_rootfs_mountpoint
from ociruntime.rootfs.resolve import ProcSelf


def prepare_rootfs(plan: RootfsPlan) -> None:
    state = plan.state
    state.proc = ProcSelf.open()
    if plan.mount_ns == "host":
        state.root_fd = _mount_rootfs_for_host_namespace(plan)
    else:
        state.root_fd = _bind_rootfs_onto_itself(plan)
    ctx = MountContext(plan=plan, root_fd=state.root_fd, proc=state.proc, in_user_ns=_in_user_namespace(plan),
                       selinux=_selinux_enabled())
    if plan.mount_label and not ctx.selinux:
        from ociruntime.log import logger

        logger.debug("linux.mountLabel ignored: this kernel has no SELinux")
    for m in plan.mounts:
        mount_entry(ctx, m)
    if plan.setup_dev:
        create_devices(ctx, plan.devices)
        setup_dev_links(ctx)
    os.fchdir(state.root_fd)


def _bind_rootfs_onto_itself(plan: RootfsPlan) -> int:
    try:
        # runc's default: receive the host's mount events, never send ours back.
        mounts.mount(None, "/", None, MS_SLAVE | MS_REC)
        mounts.mount(plan.rootfs, plan.rootfs, None, MS_BIND | MS_REC)
    except OSError as err:
        raise setup_error("root.path", f"bind-mount the rootfs {plan.rootfs} onto itself", err) from None
    # Opened after the bind, so lookups under it go through the new mount.
    return os.open(plan.rootfs, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)


def _mount_rootfs_for_host_namespace(plan: RootfsPlan) -> int:
    """No mount namespace: mounts land in the runtime's own namespace. The rootfs goes on
    a runtime-owned mount point (host_mount_dir/rootfs), private, so everything mounted
    for the container hangs off one mount that delete detaches (cleanup_host_side). The
    host's "/" is left alone."""
    if plan.host_mount_dir is None:
        raise UnsupportedError(
            "linux.namespaces: a container without a mount namespace needs a runtime directory "
            "for its mounts (plan_rootfs host_mount_dir)"
        )
    mount_point = host_rootfs_mountpoint(plan.host_mount_dir)
    try:
        os.makedirs(mount_point, mode=0o755, exist_ok=True)
        flags = mounts.OPEN_TREE_CLONE | mounts.OPEN_TREE_CLOEXEC | mounts.AT_RECURSIVE
        tree = mounts.open_tree(plan.rootfs, flags)
        target = os.open(mount_point, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            mounts.move_mount(tree, "", target, "")
        finally:
            os.close(target)
        plan.state.host_tree = mount_point
        mounts.mount_setattr("", 0, 0, propagation=mounts.MS_PRIVATE, recursive=True, dirfd=tree)
    except OSError as err:
        raise setup_error("root.path", f"mount the rootfs {plan.rootfs} on {mount_point}", err) from None
    return tree


def _in_user_namespace(plan: RootfsPlan) -> bool:
    """In a user namespace (ours, or the runtime's own when rootless): no mknod then."""
    if plan.user_ns:
        return True
    try:
        with open("/proc/self/uid_map", encoding="utf-8") as f:  # utf-8: a codec already loaded
            return f.read().split() != ["0", "0", "4294967295"]
    except OSError as err:
        raise KernelError(f"read /proc/self/uid_map: {err.strerror}", err.errno or 0) from None


def _selinux_enabled() -> bool:
    return os.path.exists("/sys/fs/selinux/enforce")
