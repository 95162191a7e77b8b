"""Allocate a pty pair from the devpts instance at /dev/pts and set window sizes."""

from __future__ import annotations

import errno
import fcntl
import os
import stat
import struct
import termios

from ociruntime.errors import KernelError
from ociruntime.linux import fs, tty
from ociruntime.records import tuple_record

TIOCGPTN, TIOCSPTLCK, TIOCGPTPEER = tty.TIOCGPTN, tty.TIOCSPTLCK, tty.TIOCGPTPEER
TIOCSWINSZ = termios.TIOCSWINSZ
TIOCGWINSZ = termios.TIOCGWINSZ
TIOCSCTTY = termios.TIOCSCTTY

PTMX = "/dev/pts/ptmx"
_PTMX_DEVICE = os.makedev(5, 2)
_WINSIZE = struct.Struct("HHHH")  # rows, cols, xpixel, ypixel


@tuple_record
class Pty:
    master: int
    peer: int
    name: str  # the peer's path, /dev/pts/N


def open_pty() -> Pty:
    """A new pty pair from the devpts mounted at /dev/pts; both fds close-on-exec.

    The master is checked to be the ptmx of a real devpts, and the peer is opened through
    the master (TIOCGPTPEER), so a path swapped in the container cannot hand us another file.
    """
    flags = os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC
    try:
        master = os.open(PTMX, flags | os.O_NOFOLLOW)
    except OSError as err:
        raise KernelError(f"open {PTMX}: {err.strerror}", err.errno or 0) from None
    try:
        st = os.fstat(master)
        if not stat.S_ISCHR(st.st_mode) or st.st_rdev != _PTMX_DEVICE or \
                not fs.is_fs_type(master, fs.DEVPTS_SUPER_MAGIC):
            raise KernelError(f"{PTMX} is not the ptmx of a devpts mount", errno.EINVAL)
        fcntl.ioctl(master, TIOCSPTLCK, struct.pack("i", 0))
        number = struct.unpack("I", fcntl.ioctl(master, TIOCGPTN, bytes(4)))[0]
        name = f"/dev/pts/{number}"
        peer = _open_peer(master, name, flags)
        return Pty(master, peer, name)
    except OSError as err:
        os.close(master)
        raise KernelError(f"allocate a pty from {PTMX}: {err.strerror}", err.errno or 0) from None
    except BaseException:
        os.close(master)
        raise


def _open_peer(master: int, name: str, flags: int) -> int:
    try:
        return fcntl.ioctl(master, TIOCGPTPEER, flags)
    except OSError as err:
        if err.errno not in (errno.EINVAL, errno.ENOTTY):
            raise
    # Older kernels: open by name, then make sure it is on the master's devpts.
    peer = os.open(name, flags | os.O_NOFOLLOW)
    if os.fstat(peer).st_dev != os.fstat(master).st_dev:
        os.close(peer)
        raise KernelError(f"{name} is not on the devpts of {PTMX}", errno.EXDEV)
    return peer


def set_window_size(fd: int, rows: int, cols: int) -> None:
    fcntl.ioctl(fd, TIOCSWINSZ, _WINSIZE.pack(rows, cols, 0, 0))


def window_size(fd: int) -> tuple[int, int]:
    """(rows, cols) of the terminal fd is on."""
    rows, cols, _, _ = _WINSIZE.unpack(fcntl.ioctl(fd, TIOCGWINSZ, bytes(_WINSIZE.size)))
    return rows, cols
