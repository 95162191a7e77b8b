"""sd_notify proxy: when the runtime runs with NOTIFY_SOCKET (systemd Type=notify), the
container's READY=1 reaches that host socket, as with runc (runc:notify_socket.go).

- `create` makes ``<state dir>/notify``, bind-mounts it read-only on ``/run/notify`` in the
  container and sets ``NOTIFY_SOCKET=/run/notify/notify.sock`` in the process env.
- `start` binds the datagram socket ``<state dir>/notify/notify.sock`` (mode 0777) before
  releasing the init, then blocks until a datagram holding a ``READY=`` line arrives or the
  init exits, and sends that line and ``MAINPID=<init pid>`` to the host socket.

The host path is taken from the environment of each verb; a container created without it
has no notify dir and `start` relays nothing.
"""

from __future__ import annotations

import os
import select
import socket

from ociruntime.errors import OciError
from ociruntime.state.store import NOTIFY_DIR

SOCKET_NAME = "notify.sock"
CONTAINER_DIR = "/run/notify"
CONTAINER_SOCKET = f"{CONTAINER_DIR}/{SOCKET_NAME}"
MOUNT_OPTIONS = ("bind", "nosuid", "noexec", "nodev", "ro")
MAX_DATAGRAM = 4096

TYPE_CHECKING = False
if TYPE_CHECKING:
    from threading import Thread

    from ociruntime.process.plan import ContainerPlan


def host_socket() -> str | None:
    return os.environ.get("NOTIFY_SOCKET") or None


def add_to_plan(plan: ContainerPlan, state_dir: str) -> None:
    """create, after the state dir exists: make the notify dir and add its mount and env
    entry to both the plan and the saved config (so `state`/hooks see what runs)."""
    from ociruntime.rootfs.options import parse_mount_options
    from ociruntime.rootfs.plan import MountPlan

    directory = os.path.join(state_dir, NOTIFY_DIR)
    os.mkdir(directory, 0o755)
    mounts = plan.config.setdefault("mounts", [])
    mounts.append({"destination": CONTAINER_DIR, "type": "bind", "source": directory,
                   "options": list(MOUNT_OPTIONS)})
    mount = MountPlan(index=len(mounts) - 1, kind="bind", source=directory, destination=CONTAINER_DIR,
                      fstype="bind", options=parse_mount_options(list(MOUNT_OPTIONS)))
    plan.rootfs = plan.rootfs._replace(mounts=plan.rootfs.mounts + (mount,))
    entry = f"NOTIFY_SOCKET={CONTAINER_SOCKET}"
    plan.env = [e for e in plan.env if not e.startswith("NOTIFY_SOCKET=")] + [entry]
    process = plan.config["process"]
    process["env"] = [e for e in process.get("env") or [] if not e.startswith("NOTIFY_SOCKET=")] + [entry]


class Relay:
    """The container-side socket of one `start`, and where READY goes on the host."""

    def __init__(self, sock: socket.socket, host: str) -> None:
        self.sock = sock
        self.host = host

    @classmethod
    def bind(cls, state_dir: str, host: str) -> Relay | None:
        """Listen on the container's notify socket; None if the container has no notify dir."""
        directory = os.path.join(state_dir, NOTIFY_DIR)
        if not os.path.isdir(directory):
            return None
        path = os.path.join(directory, SOCKET_NAME)
        try:
            os.unlink(path)  # left by an earlier, failed start
        except FileNotFoundError:
            pass
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        try:
            sock.bind(path)
            os.chmod(path, 0o777)  # any user in the container may notify
        except OSError as err:
            sock.close()
            raise OciError(f"notify socket {path}: {err.strerror}") from None
        return cls(sock, host)

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Relay:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def forward_ready(self, pid: int, pidfd: int | None = None) -> None:
        """Block until the container sends READY= (relay it) or its init exits (return).
        Takes over ``pidfd`` (the init's) if given."""
        if pidfd is None:
            try:
                pidfd = os.pidfd_open(pid)
            except ProcessLookupError:  # already reaped: only what was sent counts
                ready = self._read_pending()
                if ready is not None:
                    self._notify_host(ready, pid)
                return
        try:
            ready = self._wait_for_ready(pidfd)
        finally:
            os.close(pidfd)
        if ready is not None:
            self._notify_host(ready, pid)

    def _wait_for_ready(self, pidfd: int) -> bytes | None:
        poller = select.poll()
        poller.register(self.sock.fileno(), select.POLLIN)
        poller.register(pidfd, select.POLLIN)
        while True:
            ready_fds = {fd for fd, _events in poller.poll()}
            # Datagrams first: READY sent just before the init exited still counts.
            line = self._read_pending() if self.sock.fileno() in ready_fds else None
            if line is not None:
                return line
            if pidfd in ready_fds:
                return self._read_pending()

    def _read_pending(self) -> bytes | None:
        """The READY= line among the datagrams already queued, if any (does not block)."""
        while True:
            try:
                datagram = self.sock.recv(MAX_DATAGRAM, socket.MSG_DONTWAIT)
            except BlockingIOError:
                return None
            line = ready_line(datagram)
            if line is not None:
                return line

    def _notify_host(self, ready: bytes, pid: int) -> None:
        # "@name" is an abstract socket (sd_notify's convention).
        address = "\0" + self.host[1:] if self.host.startswith("@") else self.host
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as client:
                client.connect(address)
                client.send(ready + b"\n")
                client.send(f"MAINPID={pid}\n".encode())
        except OSError as err:
            raise OciError(f"notify socket {self.host}: {err.strerror}") from None


def ready_line(datagram: bytes) -> bytes | None:
    """The READY= line of an sd_notify datagram (newline-separated assignments), if any."""
    for line in datagram.split(b"\n"):
        if line.startswith(b"READY="):
            return line
    return None


def relay_in_background(relay: Relay, pid: int) -> Thread:
    """Foreground `run`: relay from a daemon thread (it ends once the init has exited: join
    it then); errors are dropped, as runc drops them."""
    import threading

    pidfd = os.pidfd_open(pid)  # here, before the caller can reap the init

    def forward() -> None:
        try:
            with relay:
                relay.forward_ready(pid, pidfd)
        except (OciError, OSError):
            pass

    thread = threading.Thread(target=forward, name="notify-relay", daemon=True)
    thread.start()
    return thread
