"""The container side: make a pty the process's terminal and hand the master to the caller.

Called in the container init after pivot_root (and before the rootfs is made read-only), or
in an exec'd process after it joined the container's mount namespace: /dev/pts is then the
container's own devpts. runc's order: pty, consoleSize, /dev/console, send, stdio, setsid +
controlling tty.
"""

from __future__ import annotations

import errno
import fcntl
import os

from ociruntime.console import handoff
from ociruntime.console.pty import TIOCSCTTY, open_pty, set_window_size
from ociruntime.errors import KernelError
from ociruntime.linux import mounts
from ociruntime.rootfs.resolve import ensure_target

CONSOLE = "/dev/console"


def set_up_console(sock_fd: int, size: tuple[int, int] | None, *, proc: object | None = None,
                   mount_console: bool = True) -> None:
    """Allocate the pty, send its master over sock_fd, make the peer fds 0-2 and the
    controlling terminal. Closes sock_fd. ``size`` is (rows, cols) from process.consoleSize;
    ``proc`` the rootfs set-up's ProcSelf handle (mounts are made onto fds through it)."""
    try:
        pty = open_pty()
        try:
            if size is not None:
                set_window_size(pty.master, *size)
            if mount_console:
                _bind_console(pty.peer, proc)
            handoff.send_master(sock_fd, pty.name, pty.master)
        except BaseException:
            os.close(pty.peer)
            raise
        finally:
            os.close(pty.master)
    finally:
        os.close(sock_fd)
    for fd in (0, 1, 2):
        os.dup2(pty.peer, fd, inheritable=True)
    os.close(pty.peer)
    _take_as_controlling_terminal()


def _bind_console(peer: int, proc: object | None) -> None:
    """Bind the peer onto /dev/console (created as an empty file if missing), resolved
    inside the root, mounted by fd so a symlink cannot redirect it."""
    root = os.open("/", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        target = ensure_target(root, CONSOLE, directory=False, no_symlinks=True)
    except OSError as err:
        raise KernelError(f"create {CONSOLE}: {err.strerror or err}", err.errno or 0) from None
    finally:
        os.close(root)
    try:
        if proc is not None:
            proc.mount(None, target, None, mounts.MS_BIND, source_fd=peer)  # type: ignore[attr-defined]
        else:
            mounts.mount(f"/proc/self/fd/{peer}", f"/proc/self/fd/{target}", None, mounts.MS_BIND)
    except OSError as err:
        raise KernelError(f"bind the pty onto {CONSOLE}: {err.strerror or err}", err.errno or 0) from None
    finally:
        os.close(target)


def _take_as_controlling_terminal() -> None:
    # A new session without a terminal, then fd 0 becomes its controlling tty (job
    # control and ^C reach the container's foreground process group).
    try:
        os.setsid()
    except OSError as err:
        if err.errno != errno.EPERM:  # already a session leader
            raise
    fcntl.ioctl(0, TIOCSCTTY, 0)
