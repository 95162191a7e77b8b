"""Each config.json mount, by kind, onto targets resolved inside the rootfs.

Bind mounts are built detached (open_tree), given their options there, and only then
attached with move_mount onto the target's fd: they are never visible with the wrong
flags, and never land anywhere but the resolved target. New file systems are mounted with
mount(2) onto "/proc/<pid>/fd/N" of the resolved target (the kernel has no fd form of
mount(2) short of fsopen), then re-opened to set propagation and recursive attributes.
"""

from __future__ import annotations

import errno
import os
import stat

from ociruntime.errors import ConfigError
from ociruntime.linux import fs, mounts
from ociruntime.rootfs.errors import setup_error
from ociruntime.rootfs.options import (
    MS_NODEV,
    MS_NOEXEC,
    MS_NOSUID,
    MS_RDONLY,
    MS_REC,
    MountOptions,
    bind_attrs,
    describe_flags,
)
from ociruntime.rootfs.plan import PROC_MOUNT_ALLOWED, MountPlan, RootfsPlan
from ociruntime.rootfs.resolve import (
    ProcSelf,
    close_fds,
    ensure_target,
    open_in_root,
    reopen_new_mount,
)

TYPE_CHECKING = False  # collections.abc runs collections/__init__ (~3 ms) in stage 1
if TYPE_CHECKING:
    from collections.abc import Callable

# The file systems whose mount target must be a plain directory reached without any
# symlink (CVE-2019-19921: /proc on a symlink sends later /proc writes elsewhere), and the
# f_type they must have once mounted.
_VERIFIED_FS = {"proc": fs.PROC_SUPER_MAGIC, "sysfs": fs.SYSFS_MAGIC}
_EXPECTED_MAGIC = {
    "tmpfs": fs.TMPFS_MAGIC,
    "devpts": fs.DEVPTS_SUPER_MAGIC,
    "cgroup2": fs.CGROUP2_SUPER_MAGIC,
    **_VERIFIED_FS,
}
CGROUP_TMPFS_FLAGS = MS_NOSUID | MS_NOEXEC | MS_NODEV


class MountContext:
    """What every mount step needs: the plan, the root fd, the procfs handle."""

    __slots__ = ("plan", "root_fd", "proc", "in_user_ns", "selinux")

    def __init__(self, plan: RootfsPlan, root_fd: int, proc: ProcSelf, in_user_ns: bool, selinux: bool) -> None:
        self.plan = plan
        self.root_fd = root_fd
        self.proc = proc
        self.in_user_ns = in_user_ns
        self.selinux = selinux

    def keep_for_readonly(self, field: str, fd: int) -> None:
        """A mount to make read-only at the end (finalize_rootfs): tmpfs and /dev are
        mounted writable first so devices, copies and symlinks can go in."""
        self.plan.state.readonly_later.append((field, fd))


def mount_entry(ctx: MountContext, m: MountPlan) -> None:
    """Mount one config.json entry; errors name the entry (mounts[i])."""
    handler = handler_for(m)
    try:
        handler(ctx, m)
    except OSError as err:
        raise setup_error(m.field, f"mount {m.source} on {m.destination} ({_describe(m)})", err) from None


def _describe(m: MountPlan) -> str:
    parts = [f"type {m.fstype or m.kind}", f"flags {describe_flags(m.flags)}"]
    if m.options.data:
        parts.append(f"data {m.options.data}")
    return ", ".join(parts)


# -- bind mounts --------------------------------------------------------------------------


def _bind(ctx: MountContext, m: MountPlan) -> None:
    src = os.open(m.source, os.O_PATH | os.O_CLOEXEC)
    try:
        if m.destination == "/proc" and not fs.is_fs_type(src, fs.PROC_SUPER_MAGIC):
            raise ConfigError(f"{m.field}.destination", '"/proc" can only be bind-mounted from a procfs')
        directory = stat.S_ISDIR(os.fstat(src).st_mode)
        bind_tree(ctx, m, src, directory=directory, recursive=m.options.is_recursive_bind)
    finally:
        os.close(src)


def bind_tree(ctx: MountContext, m: MountPlan, src_fd: int, *, directory: bool, recursive: bool,
              options: MountOptions | None = None) -> None:
    """Clone the mount tree at src_fd, give it m's options, attach it at m.destination."""
    opts = options or m.options
    flags = mounts.OPEN_TREE_CLONE | mounts.OPEN_TREE_CLOEXEC | (mounts.AT_RECURSIVE if recursive else 0)
    tree = mounts.open_tree("", flags, dirfd=src_fd)
    target = -1
    try:
        attr_set, attr_clr = bind_attrs(opts)
        if attr_set or attr_clr:
            mounts.mount_setattr("", attr_set, attr_clr, dirfd=tree)
        if opts.rec_set or opts.rec_clr:
            mounts.mount_setattr("", opts.rec_set, opts.rec_clr, recursive=True, dirfd=tree)
        target = ensure_target(ctx.root_fd, m.destination, directory=directory)
        _refuse_procfs_target(m, target)
        mounts.move_mount(tree, "", target, "")
        _set_propagation(tree, opts.propagation)
    finally:
        close_fds(tree, target)


def bind_host_path(ctx: MountContext, m: MountPlan, host_path: str, *, recursive: bool = True,
                   options: MountOptions | None = None) -> None:
    """Fallback for a file system a user namespace may not mount: bind the host's."""
    src = os.open(host_path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        bind_tree(ctx, m, src, directory=True, recursive=recursive, options=options)
    finally:
        os.close(src)


def _refuse_procfs_target(m: MountPlan, target_fd: int) -> None:
    """Checked on the resolved target, so a symlink cannot route a mount into /proc."""
    if m.kind == "proc" or m.destination in PROC_MOUNT_ALLOWED:
        return
    if fs.is_fs_type(target_fd, fs.PROC_SUPER_MAGIC):
        raise ConfigError(f"{m.field}.destination",
                          f'"{m.destination}" resolves to a file inside procfs, which cannot be mounted over')


def _set_propagation(mount_fd: int, propagation: tuple[int, ...]) -> None:
    for flag in propagation:
        mounts.mount_setattr("", 0, 0, propagation=flag & ~MS_REC, recursive=bool(flag & MS_REC), dirfd=mount_fd)


def _after_mount(mount_fd: int, opts: MountOptions) -> None:
    _set_propagation(mount_fd, opts.propagation)
    if opts.rec_set or opts.rec_clr:
        mounts.mount_setattr("", opts.rec_set, opts.rec_clr, recursive=True, dirfd=mount_fd)


# -- new file systems ---------------------------------------------------------------------


def new_fs(ctx: MountContext, m: MountPlan, *, fstype: str | None = None, source: str | None = None,
           flags: int | None = None, data: str | None = None, options: MountOptions | None = None) -> int:
    """mount(2) a new file system at m.destination; returns an O_PATH fd of its root.

    The caller owns the fd. The target is created as a directory if missing; for
    proc/sysfs it must be reached without symlinks and be a directory, and the result
    must really be procfs/sysfs.
    """
    fstype = fstype or m.fstype
    opts = options or m.options
    flags = opts.flags if flags is None else flags
    data = _with_label(ctx, fstype, opts.data if data is None else data)
    strict = fstype in _VERIFIED_FS
    target = ensure_target(ctx.root_fd, m.destination, directory=True, no_symlinks=strict)
    try:
        if strict and not stat.S_ISDIR(os.fstat(target).st_mode):
            raise ConfigError(f"{m.field}.destination",
                              f'{fstype} must be mounted on an ordinary directory, "{m.destination}" is not one')
        _refuse_procfs_target(m, target)
        ctx.proc.mount(source or m.source, target, fstype, flags, data or None)
        mounted = reopen_new_mount(ctx.proc, ctx.root_fd, m.destination, target, no_symlinks=strict)
    finally:
        os.close(target)
    try:
        magic = _EXPECTED_MAGIC.get(fstype)
        if magic is not None and not fs.is_fs_type(mounted, magic):
            raise ConfigError(f"{m.field}.destination", f'"{m.destination}" is not a {fstype} mount after mounting it')
        _after_mount(mounted, opts)
    except BaseException:
        os.close(mounted)
        raise
    return mounted


def _with_label(ctx: MountContext, fstype: str, data: str) -> str:
    """SELinux mountLabel as context= (never for proc/sysfs, which cannot take one).
    Without SELinux the label is ignored (prepare_rootfs logs that once)."""
    label = ctx.plan.mount_label
    if not (label and ctx.selinux) or fstype in _VERIFIED_FS or "context=" in data:
        return data
    return ",".join(filter(None, [data, f'context="{label}"']))


def _generic(ctx: MountContext, m: MountPlan) -> None:
    os.close(new_fs(ctx, m))


def _proc(ctx: MountContext, m: MountPlan) -> None:
    os.close(new_fs(ctx, m))


def _sysfs(ctx: MountContext, m: MountPlan) -> None:
    try:
        os.close(new_fs(ctx, m))
    except PermissionError:
        # A user namespace that does not own the network namespace may not mount sysfs:
        # bind the host's, as runc does.
        if not ctx.in_user_ns:
            raise
        bind_host_path(ctx, m, "/sys")


def _mqueue(ctx: MountContext, m: MountPlan) -> None:
    try:
        os.close(new_fs(ctx, m))
    except PermissionError:
        if not ctx.in_user_ns:
            raise
        bind_host_path(ctx, m, "/dev/mqueue")


def _devpts(ctx: MountContext, m: MountPlan) -> None:
    try:
        os.close(new_fs(ctx, m))
    except OSError as err:
        # In a user namespace gid=5 may not be mapped: mount without it (runc does too).
        data = m.options.data
        if err.errno != errno.EINVAL or not ctx.in_user_ns or "gid=" not in data:
            raise
        kept = ",".join(o for o in data.split(",") if not o.startswith("gid="))
        os.close(new_fs(ctx, m, data=kept))


def _tmpfs(ctx: MountContext, m: MountPlan) -> None:
    from ociruntime.rootfs.copyup import copy_tree

    existing = _existing_dir(ctx, m.destination, readable=m.options.copyup)
    flags = m.flags & ~MS_RDONLY  # writable until finalize: copies, devices, chmod go in first
    try:
        mounted = new_fs(ctx, m, flags=flags)
        try:
            if existing is not None:
                if m.options.copyup:
                    copy_tree(existing[0], ctx.proc, mounted)
                if "mode=" not in m.options.data:
                    # Keep the directory's mode (e.g. /tmp 1777) unless the options set one.
                    ctx.proc.chmod(mounted, stat.S_IMODE(existing[1]))
        except BaseException:
            os.close(mounted)
            raise
    finally:
        if existing is not None:
            os.close(existing[0])
    _finish_writable(ctx, m, mounted)


def _finish_writable(ctx: MountContext, m: MountPlan, mounted: int) -> None:
    if m.flags & MS_RDONLY:
        ctx.keep_for_readonly(m.field, mounted)
    else:
        os.close(mounted)


def _existing_dir(ctx: MountContext, path: str, *, readable: bool) -> tuple[int, int] | None:
    """(fd, mode) of what is at path now, or None if nothing is."""
    try:
        fd = open_in_root(ctx.root_fd, path, (os.O_RDONLY | os.O_DIRECTORY) if readable else os.O_PATH)
    except FileNotFoundError:
        return None
    return fd, os.fstat(fd).st_mode


def _remount(ctx: MountContext, m: MountPlan) -> None:
    """"remount" changes a mount that is already there (an earlier entry, or the rootfs)."""
    target = open_in_root(ctx.root_fd, m.destination)
    try:
        ctx.proc.mount(None, target, m.fstype or None, m.flags, m.options.data or None)
        _after_mount(target, m.options)
    finally:
        os.close(target)


def _cgroup2(ctx: MountContext, m: MountPlan) -> None:
    from ociruntime.rootfs import cgroupfs

    cgroupfs.mount_cgroup2(ctx, m)


def _cgroup(ctx: MountContext, m: MountPlan) -> None:
    from ociruntime.rootfs import cgroupfs

    cgroupfs.mount_cgroup(ctx, m)


def _dev_tmpfs_or_other(ctx: MountContext, m: MountPlan) -> None:
    """A non-tmpfs /dev (e.g. devtmpfs): like any other, but read-only only at the end."""
    mounted = new_fs(ctx, m, flags=m.flags & ~MS_RDONLY)
    _finish_writable(ctx, m, mounted)


_HANDLERS = {
    "bind": _bind,
    "remount": _remount,
    "proc": _proc,
    "sysfs": _sysfs,
    "tmpfs": _tmpfs,
    "devpts": _devpts,
    "mqueue": _mqueue,
    "cgroup": _cgroup,
    "cgroup2": _cgroup2,
}


def handler_for(m: MountPlan) -> Callable[[MountContext, MountPlan], None]:
    if m.kind == "generic" and m.destination == "/dev":
        return _dev_tmpfs_or_other
    return _HANDLERS.get(m.kind, _generic)
