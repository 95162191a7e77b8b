"""The runtime side of a foreground terminal (`run -t`, `exec -t` without -d): copy the
caller's stdin to the pty master and the master's output to the caller's stdout until the
process exits, as `runc run -t` does.

When stdin is a terminal it is switched to raw mode for the duration (the container's pty
does the line discipline) and its window size is copied to the pty, now and on SIGWINCH.
"""

from __future__ import annotations

import errno
import os
import select
import signal
import termios
import tty

from ociruntime.console.pty import set_window_size, window_size

_CHUNK = 65536
_IN, _OUT = 0, 1


class HostTerminal:
    """Our stdin's terminal (if it is one) attached to a pty master: raw mode and its window
    size copied to the pty (now and on SIGWINCH) until close(). Set it up before the process
    starts, so the process sees the caller's size from its first instruction."""

    def __init__(self, master: int) -> None:
        self.master = master
        self.saved = termios.tcgetattr(_IN) if os.isatty(_IN) else None
        self.previous_winch = None
        if self.saved is not None:
            _copy_size(master)
            self.previous_winch = signal.signal(signal.SIGWINCH, lambda _s, _f: _copy_size(master))
            tty.setraw(_IN, termios.TCSANOW)

    def proxy(self, pid: int) -> None:
        """Copy stdin -> master and master -> stdout until ``pid`` exits, then drain what it
        left in the pty. Does not reap pid nor close the master."""
        _copy_until_exit(self.master, pid)

    def close(self) -> None:
        if self.saved is not None:
            termios.tcsetattr(_IN, termios.TCSADRAIN, self.saved)
            self.saved = None
        if self.previous_winch is not None:
            signal.signal(signal.SIGWINCH, self.previous_winch)
            self.previous_winch = None


def _copy_size(master: int) -> None:
    try:
        rows, cols = window_size(_IN)
        if rows and cols:  # an unsized terminal keeps process.consoleSize
            set_window_size(master, rows, cols)
    except OSError:
        pass


def _copy_until_exit(master: int, pid: int) -> None:
    os.set_blocking(master, False)
    pidfd = os.pidfd_open(pid)
    stdin_open = True
    master_open = True
    pending = bytearray()  # stdin bytes the pty did not take yet
    try:
        while True:
            poller = select.poll()
            poller.register(pidfd, select.POLLIN)
            if stdin_open and len(pending) < _CHUNK:  # else back-pressure on the caller
                poller.register(_IN, select.POLLIN)
            if master_open:
                poller.register(master, select.POLLIN | (select.POLLOUT if pending else 0))
            for fd, events in poller.poll():
                if fd == pidfd:
                    if master_open:
                        _drain(master)
                    return
                if fd == _IN:
                    try:
                        data = _read(_IN) if not events & select.POLLNVAL else b""
                    except OSError:  # not readable (started without a stdin): no input
                        data = b""
                    if data == b"":
                        stdin_open = False
                    elif data:
                        pending += data
                elif fd == master:
                    if events & select.POLLOUT and pending:
                        del pending[:_write_some(master, pending)]
                    if events & (select.POLLIN | select.POLLHUP | select.POLLERR):
                        data = _read(master)
                        if data:
                            _write_all(_OUT, data)
                        elif data == b"":  # every peer fd is closed
                            master_open = False
                            pending.clear()
    finally:
        os.close(pidfd)


def _read(fd: int) -> bytes | None:
    """Read a chunk; b"" at EOF (EIO on a master whose peer is closed); None if nothing yet."""
    try:
        return os.read(fd, _CHUNK)
    except BlockingIOError:
        return None
    except OSError as err:
        if err.errno == errno.EIO:
            return b""
        raise


def _write_some(fd: int, data: bytearray) -> int:
    try:
        return os.write(fd, data)
    except BlockingIOError:
        return 0
    except OSError as err:
        if err.errno == errno.EIO:
            return len(data)  # the peer is gone: nobody will read it
        raise


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view):]
        except BlockingIOError:
            select.select([], [fd], [])


def _drain(master: int) -> None:
    """The process exited: copy out what it wrote before (no more is coming from it)."""
    while True:
        data = _read(master)
        if not data:
            return
        _write_all(_OUT, data)
