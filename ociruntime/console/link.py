"""The socket a container process sends its pty master over (see handoff.py): the caller's
console socket when the runtime detaches, else our end of a socketpair, from which a
foreground runtime receives the master to proxy it."""

from __future__ import annotations

import os


class ConsoleLink:
    def __init__(self) -> None:
        self.send_fd = -1     # for the container process (inherited across fork)
        self.receive_fd = -1  # ours, foreground only
        self.master = -1

    def open(self, terminal: bool, console_socket: str | None) -> int:
        """The fd to hand to the container process, or -1 without a terminal."""
        if not terminal:
            return -1
        if console_socket:
            from ociruntime.console.handoff import connect

            self.send_fd = connect(console_socket)
        else:
            import _socket  # the C module: socket.py costs ~4-5 ms to import

            ours, theirs = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM)
            self.receive_fd, self.send_fd = ours.detach(), theirs.detach()
        return self.send_fd

    def finish(self) -> None:
        """Once the container process reported ready (it sent the master before): drop our
        copy of its socket; in the foreground receive the master."""
        if self.send_fd >= 0:
            os.close(self.send_fd)
            self.send_fd = -1
        if self.receive_fd >= 0:
            from ociruntime.console.handoff import receive_master

            _, self.master = receive_master(self.receive_fd)
            os.close(self.receive_fd)
            self.receive_fd = -1

    def take_master(self) -> int:
        """The received master (-1 if none); the caller closes it."""
        master, self.master = self.master, -1
        return master

    def close(self) -> None:
        for fd in (self.send_fd, self.receive_fd, self.master):
            if fd >= 0:
                os.close(fd)
        self.send_fd = self.receive_fd = self.master = -1


def check_terminal(terminal: bool, detach: bool, console_socket: str | None) -> None:
    """runc's checkTerminal, for create and exec (each with its own detach flag)."""
    from ociruntime.errors import OciError

    if terminal and detach and not console_socket:
        raise OciError("cannot allocate tty if runc will detach without setting console socket",
                       code="usage.invalid")
    if console_socket and (not terminal or not detach):
        raise OciError("cannot use console socket if runc will not detach or allocate tty",
                       code="usage.invalid")
