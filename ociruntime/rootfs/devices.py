"""Device nodes (the default ones and linux.devices), /dev/ptmx and the /dev symlinks.

Nodes are made with mknod inside the rootfs; in a user namespace (where mknod is not
allowed) or when mknod is refused, the host's node is bind-mounted instead, as runc does.
A path that already holds something else is an error (config-linux.md "Devices"); nothing
is ever followed through a symlink.
"""

from __future__ import annotations

import errno
import os
import stat

from ociruntime.errors import ConfigError
from ociruntime.linux import mounts
from ociruntime.rootfs.errors import setup_error
from ociruntime.rootfs.resolve import close_fds, mkdirs_in_root

TYPE_CHECKING = False  # `import typing` costs ~8 ms on every create
if TYPE_CHECKING:
    from ociruntime.rootfs.mounting import MountContext
    from ociruntime.rootfs.plan import DevicePlan

_TYPE_BITS = {"c": stat.S_IFCHR, "b": stat.S_IFBLK, "p": stat.S_IFIFO}

# runtime-linux.md "Dev symbolic links" (+ /dev/core like runc, when the kernel has kcore)
DEV_SYMLINKS = (
    ("/proc/self/fd", "fd"),
    ("/proc/self/fd/0", "stdin"),
    ("/proc/self/fd/1", "stdout"),
    ("/proc/self/fd/2", "stderr"),
)


def create_devices(ctx: MountContext, devices: tuple[DevicePlan, ...]) -> None:
    old_umask = os.umask(0)  # modes exactly as configured
    try:
        for device in devices:
            try:
                _create_device(ctx, device)
            except OSError as err:
                raise setup_error(device.field, f"create {device.type} {_numbers(device)} at {device.path}",
                                  err) from None
    finally:
        os.umask(old_umask)


def _numbers(device: DevicePlan) -> str:
    return f"{device.major}:{device.minor}" if device.type != "p" else "fifo"


def _create_device(ctx: MountContext, device: DevicePlan) -> None:
    parent_path, name = os.path.split(device.path)
    parent = mkdirs_in_root(ctx.root_fd, parent_path)
    try:
        if ctx.in_user_ns and device.type != "p":
            _bind_host_node(ctx, device, parent, name)
            return
        rdev = os.makedev(device.major, device.minor) if device.type != "p" else 0
        try:
            os.mknod(name, _TYPE_BITS[device.type] | device.mode, rdev, dir_fd=parent)
        except FileExistsError:
            _check_existing(device, parent, name)
            return
        except PermissionError:
            if device.type == "p":
                raise
            _bind_host_node(ctx, device, parent, name)
            return
        # Not following symlinks; a fresh node cannot be one anyway.
        os.chown(name, device.uid, device.gid, dir_fd=parent, follow_symlinks=False)
        if device.mode & 0o7000:  # chown cleared set-id bits: put them back
            node = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent)
            try:
                ctx.proc.chmod(node, device.mode)
            finally:
                os.close(node)
    finally:
        os.close(parent)


def _check_existing(device: DevicePlan, parent: int, name: str) -> None:
    st = os.stat(name, dir_fd=parent, follow_symlinks=False)
    same_type = stat.S_IFMT(st.st_mode) == _TYPE_BITS[device.type]
    same_numbers = device.type == "p" or st.st_rdev == os.makedev(device.major, device.minor)
    if not (same_type and same_numbers):
        raise ConfigError(
            f"{device.field}.path" if device.field.startswith("linux.") else "linux.devices",
            f'"{device.path}" already exists in the rootfs and is not {device.type} {_numbers(device)}',
        )


def _bind_host_node(ctx: MountContext, device: DevicePlan, parent: int, name: str) -> None:
    """Bind the host's node (same path) over an empty file."""
    try:
        fd = os.open(name, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
                     dir_fd=parent)
        os.close(fd)
    except FileExistsError:
        st = os.stat(name, dir_fd=parent, follow_symlinks=False)
        if not stat.S_ISREG(st.st_mode):
            _check_existing(device, parent, name)
    src = os.open(device.path, os.O_PATH | os.O_CLOEXEC)  # the host's node
    tree = target = -1
    try:
        st = os.fstat(src)
        if stat.S_IFMT(st.st_mode) != _TYPE_BITS[device.type] or st.st_rdev != os.makedev(device.major, device.minor):
            raise OSError(errno.ENODEV, f"host {device.path} is not {device.type} {_numbers(device)}")
        tree = mounts.open_tree("", mounts.OPEN_TREE_CLONE | mounts.OPEN_TREE_CLOEXEC, dirfd=src)
        target = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent)
        mounts.move_mount(tree, "", target, "")
    finally:
        close_fds(src, tree, target)


def setup_dev_links(ctx: MountContext) -> None:
    """/dev/ptmx -> pts/ptmx (replacing whatever was there) and the fd/stdio symlinks."""
    dev = mkdirs_in_root(ctx.root_fd, "/dev")
    try:
        try:
            os.unlink("ptmx", dir_fd=dev)
        except FileNotFoundError:
            pass
        except OSError as err:
            raise setup_error("linux.devices", "replace /dev/ptmx with a symlink to pts/ptmx", err) from None
        os.symlink("pts/ptmx", "ptmx", dir_fd=dev)
        links = list(DEV_SYMLINKS)
        if os.path.exists("/proc/kcore"):  # the host's /proc: is kcore compiled in?
            links.append(("/proc/kcore", "core"))
        for target, name in links:
            try:
                os.symlink(target, name, dir_fd=dev)
            except FileExistsError:
                pass
    except OSError as err:
        raise setup_error("mounts", "create the /dev symlinks", err) from None
    finally:
        os.close(dev)
