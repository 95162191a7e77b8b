"""sd_notify from both ends, for the NOTIFY_SOCKET tests.

- ``build_sender(dir)``: a static ``sdnotify-send SOCKET MESSAGE`` binary (busybox has no way
  to send a unix datagram), compiled with the gcc the build already needs. Copy or bind it
  into a container.
- ``Receiver``: a private host datagram socket standing in for systemd's NOTIFY_SOCKET.
"""

from __future__ import annotations

import array
import os
import select
import socket
import subprocess
from pathlib import Path

SENDER_NAME = "sdnotify-send"
WAIT_TIMEOUT = 30.0  # safety net, never an assertion about speed

_SENDER_C = r"""
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

/* sdnotify-send SOCKET MESSAGE: one datagram, as sd_notify(3) sends it ("\n" escapes allowed). */
int main(int argc, char **argv) {
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    char message[4096];
    size_t n = 0;
    int fd;
    if (argc != 3 || strlen(argv[1]) >= sizeof(addr.sun_path)) {
        fprintf(stderr, "usage: sdnotify-send SOCKET MESSAGE\n");
        return 2;
    }
    for (const char *p = argv[2]; *p && n < sizeof(message); p++) {
        if (p[0] == '\\' && p[1] == 'n') {
            message[n++] = '\n';
            p++;
        } else {
            message[n++] = *p;
        }
    }
    strcpy(addr.sun_path, argv[1]);
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        perror("socket");
        return 1;
    }
    if (sendto(fd, message, n, 0, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        perror("sendto");
        return 1;
    }
    return 0;
}
"""


def build_sender(directory: Path) -> Path:
    """Compile the static sender into ``directory`` and return its path."""
    source = directory / f"{SENDER_NAME}.c"
    binary = directory / SENDER_NAME
    source.write_text(_SENDER_C)
    done = subprocess.run(["gcc", "-static", "-Os", "-o", str(binary), str(source)],
                          capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"cannot build {SENDER_NAME}: {done.stderr}")
    return binary


class Receiver:
    """A bound datagram socket; ``messages()`` returns what arrived (fds received are closed)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        self.sock.bind(str(path))
        os.chmod(path, 0o777)

    def close(self) -> None:
        self.sock.close()
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass

    def __enter__(self) -> Receiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def pending(self) -> list[bytes]:
        """Every datagram already queued (no waiting)."""
        found = []
        while select.select([self.sock], [], [], 0)[0]:
            found.append(self._recv())
        return found

    def wait_for(self, prefix: bytes, timeout: float = WAIT_TIMEOUT) -> list[bytes]:
        """Datagrams up to and including the first that starts with ``prefix``."""
        found: list[bytes] = []
        while True:
            if not select.select([self.sock], [], [], timeout)[0]:
                raise AssertionError(f"no {prefix!r} datagram on {self.path}; got {found!r}")
            found.append(self._recv())
            if found[-1].startswith(prefix):
                return found

    def _recv(self) -> bytes:
        data, ancillary, _flags, _addr = self.sock.recvmsg(4096, socket.CMSG_SPACE(64))
        for level, kind, payload in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds = array.array("i")
                fds.frombytes(payload[: len(payload) - len(payload) % fds.itemsize])
                for fd in fds:
                    os.close(fd)  # a BARRIER=1 pipe: closing it is the acknowledgement
        return data
