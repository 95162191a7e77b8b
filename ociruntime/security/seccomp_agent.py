"""Hand a container process's seccomp listener to the agent at linux.seccomp.listenerPath.

The filter is loaded in C right before execve (ociruntime.linux.exec), with
SECCOMP_FILTER_FLAG_NEW_LISTENER when a rule uses SCMP_ACT_NOTIFY. The C code sends the
listener fd over a unix socket to the runtime and closes both fds, so the container never
holds them. The runtime process that waits for that execve receives the fd and forwards it
here, then closes its copy:

* the init: `start` (and `run`, through start) connects to SOCKET_NAME in the state dir,
  which stage 1 bound and the init listens on, before it writes the exec fifo; the init
  accepts that connection and sends the listener over it;
* an exec'd process: `exec` gives it one end of a socketpair.

The agent gets one connection per process, with one message: the ContainerProcessState
JSON of the runtime-spec as payload and the listener as the only SCM_RIGHTS fd ("fds":
["seccompFd"]). When forwarding fails the runtime kills the process (runc's create fails
the same way) and reports the error.

Kept free of libseccomp: `start` only reads two fields of the saved config.json.
"""

from __future__ import annotations

import posix  # not os: `start` imports this module for every container with a filter

from ociruntime import posixlite
from ociruntime.errors import ConfigError, OciError

# socket is imported where it is used: `start` imports this module for every container.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import socket

SOCKET_NAME = "seccomp.sock"  # in the container's state dir, mode 0600
LISTENER_PATH_FIELD = "linux.seccomp.listenerPath"
SECCOMP_FD_NAME = "seccompFd"


class AgentTarget:
    """Where a listener goes: listenerPath and the opaque listenerMetadata."""

    __slots__ = ("path", "metadata")

    def __init__(self, path: str, metadata: str = "") -> None:
        self.path = path
        self.metadata = metadata


def target_from_config(config: dict) -> AgentTarget | None:
    """The agent of a validated config.json, or None when no rule uses SCMP_ACT_NOTIFY
    (compile_seccomp already refused NOTIFY without listenerPath)."""
    seccomp = (config.get("linux") or {}).get("seccomp") or {}
    if not any(rule.get("action") == "SCMP_ACT_NOTIFY" for rule in seccomp.get("syscalls") or []):
        return None
    return AgentTarget(seccomp.get("listenerPath") or "", seccomp.get("listenerMetadata") or "")


def check_agent_socket(path: str) -> None:
    """Fail early (at create, before exec) when nothing can listen at listenerPath:
    runc hands the listener over during create and fails there too."""
    import stat

    try:
        st = posix.stat(path)
    except OSError as err:
        raise ConfigError(LISTENER_PATH_FIELD, f"seccomp agent socket {path}: {err.strerror}") from None
    if not stat.S_ISSOCK(st.st_mode):
        raise ConfigError(LISTENER_PATH_FIELD, f"seccomp agent socket {path}: not a unix socket")


def _in_dir(dir_fd: int, name: str) -> str:
    # sun_path holds 108 bytes; a state dir path may be longer, /proc/self/fd/N never is.
    return f"/proc/self/fd/{dir_fd}/{name}"


def listen_in_state_dir(state_dir: str) -> socket.socket:
    """Stage 1 (host root, host mount namespace): bind SOCKET_NAME in the state dir and
    listen. The init keeps the socket (close-on-exec) and accepts `start`'s connection."""
    import socket

    dir_fd = posix.open(state_dir, posix.O_PATH | posix.O_DIRECTORY | posix.O_CLOEXEC)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    try:
        path = _in_dir(dir_fd, SOCKET_NAME)
        try:
            posix.unlink(path)
        except FileNotFoundError:
            pass
        sock.bind(path)
        posix.chmod(path, 0o600)  # only host root may connect and receive a listener
        sock.listen(1)
    except BaseException:
        sock.close()
        raise
    finally:
        posix.close(dir_fd)
    return sock


def accept_runtime(listening: socket.socket) -> int:
    """The init, after the exec fifo released it: the fd of the connection `start` made
    before writing the fifo (never blocks: no pending connection is an error)."""
    listening.setblocking(False)
    try:
        conn, _ = listening.accept()
    except BlockingIOError:
        raise OciError("no runtime connected to receive the seccomp listener "
                       "(was the container started by something other than `start`?)") from None
    finally:
        listening.close()
    conn.setblocking(True)
    return conn.detach()


def connect_to_init(state_dir: str) -> socket.socket:
    """`start`, before it writes the exec fifo: connect to the waiting init."""
    import socket

    dir_fd = posix.open(state_dir, posix.O_PATH | posix.O_DIRECTORY | posix.O_CLOEXEC)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    try:
        sock.connect(_in_dir(dir_fd, SOCKET_NAME))
    except OSError as err:
        sock.close()
        raise OciError(f"connect to the container init to receive its seccomp listener: {err.strerror}",
                       code="container.start_failed") from None
    finally:
        posix.close(dir_fd)
    return sock


def remove_socket(state_dir: str) -> None:
    try:
        posix.unlink(posixlite.join(state_dir, SOCKET_NAME))
    except FileNotFoundError:
        pass


def receive_listener(sock: socket.socket) -> int:
    """The listener fd the container process sent before execve (close-on-exec here)."""
    from ociruntime.linux.exec import receive_listener_fd

    try:
        return receive_listener_fd(sock)
    except OSError as err:
        raise OciError(f"receive the seccomp listener from the container process: {err.strerror}",
                       code="container.start_failed") from None


def process_state(target: AgentTarget, pid: int, state: dict) -> dict:
    """The spec's ContainerProcessState (config-linux.md, "The Container Process State")."""
    from ociruntime import SPEC_VERSION

    message: dict = {"ociVersion": SPEC_VERSION, "fds": [SECCOMP_FD_NAME], "pid": pid}
    if target.metadata:
        message["metadata"] = target.metadata
    message["state"] = state
    return message


def send_to_agent(target: AgentTarget, listener_fd: int, pid: int, state: dict) -> None:
    """One connection, one sendmsg: the JSON payload with the listener as its only fd."""
    import json
    import socket

    payload = json.dumps(process_state(target, pid, state), separators=(",", ":")).encode()
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(target.path)
            socket.send_fds(sock, [payload], [listener_fd])
    except OSError as err:
        raise OciError(
            f"config.json: {LISTENER_PATH_FIELD}: send the seccomp listener to the agent at "
            f"{target.path}: {err.strerror}", code="container.start_failed",
        ) from None


def forward(sock: socket.socket, target: AgentTarget, pid: int, state: dict) -> None:
    """Receive the listener on sock and send it to the agent; our copy is always closed.
    If that fails, the process `pid` is killed first, while the listener is still open: a
    closed listener makes notified syscalls fail with ENOSYS and the process would run on."""
    try:
        listener = receive_listener(sock)
    except BaseException:
        _kill(pid)
        raise
    try:
        send_to_agent(target, listener, pid, state)
    except BaseException:
        _kill(pid)
        raise
    finally:
        posix.close(listener)


def _kill(pid: int) -> None:
    import signal

    try:
        posix.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
