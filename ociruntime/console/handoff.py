"""The console socket (runc's protocol, reference/callers.md §5.2).

The runtime connects to the caller's listening AF_UNIX stream socket before it forks; the
container process sends the pty master with one sendmsg: data = the pty name, ancillary =
exactly one SCM_RIGHTS fd. No reply is expected.
"""

from __future__ import annotations

import _socket as socket  # the C module: socket.py builds enums and imports selectors (~4-5 ms)
import os
import struct

from ociruntime.errors import OciError

MAX_NAME = 4096  # receivers (go-runc, conmon) read the name into a buffer of this size
_FD = struct.Struct("i")


def connect(path: str) -> int:
    """Connect to the caller's console socket; return the fd (close-on-exec)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except OSError as err:
        sock.close()
        reason = (err.strerror or str(err)).lower()
        raise OciError(f"dial unix {path}: connect: {reason}", code="console.socket") from None
    return sock.detach()


def send_master(sock_fd: int, name: str, master_fd: int) -> None:
    """One sendmsg: the name as data, the master as the single SCM_RIGHTS fd."""
    sock = socket.socket(fileno=sock_fd)
    try:
        ancillary = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, _FD.pack(master_fd))]
        sock.sendmsg([name.encode()], ancillary)
    finally:
        sock.detach()


def receive_master(sock_fd: int) -> tuple[str, int]:
    """The other end (our foreground proxy): the name and the master fd (close-on-exec)."""
    sock = socket.socket(fileno=sock_fd)
    try:
        data, ancillary, flags, _ = sock.recvmsg(MAX_NAME, socket.CMSG_SPACE(_FD.size),
                                                 socket.MSG_CMSG_CLOEXEC)
    finally:
        sock.detach()
    fds = [fd for level, kind, payload in ancillary
           if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS
           for (fd,) in _FD.iter_unpack(payload[: len(payload) - len(payload) % _FD.size])]
    if len(ancillary) != 1 or len(fds) != 1 or flags & socket.MSG_CTRUNC:
        for fd in fds:
            os.close(fd)
        raise OciError("console: the container did not send exactly one pty master fd",
                       code="console.protocol")
    return data.decode(errors="replace"), fds[0]
