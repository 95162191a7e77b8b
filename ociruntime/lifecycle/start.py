"""`start`: release the waiting init through the exec fifo, wait until it has exec'd the
user process, then run the poststart hooks."""

from __future__ import annotations

import errno
import posix
import select

from ociruntime.errors import ContainerStateError, OciError
from ociruntime.lifecycle.container import Container, load
from ociruntime.state import status as st
from ociruntime.state.store import FIFO_FILE
from ociruntime import posixlite

TYPE_CHECKING = False
if TYPE_CHECKING:
    import socket

    from ociruntime.lifecycle.notify_socket import Relay
    from ociruntime.security.seccomp_agent import AgentTarget


def start(root: str, container_id: str, *, relay_notify: bool = True) -> Relay | None:
    """Start the container. With NOTIFY_SOCKET set, block until it reports READY (or its
    init exits) and relay that, as runc does; relay_notify=False returns the Relay instead."""
    container = load(root, container_id)
    status = container.status()
    if status == st.STOPPED:
        raise ContainerStateError("cannot start a container that has stopped")
    if status == st.PAUSED:
        raise ContainerStateError("cannot start a container in the paused state")
    if status != st.CREATED:
        raise ContainerStateError("cannot start an already running container")
    config = _read_config(container)
    relay = _bind_notify_socket(container)
    try:
        release_init(container, config)
        poststart = list((config.get("hooks") or {}).get("poststart") or [])
        if poststart:
            from ociruntime.hooks import run_hooks_warn

            run_hooks_warn(poststart, container.hook_state("running"), "poststart")
    except BaseException:
        if relay is not None:
            relay.close()
        raise
    if relay is None or not relay_notify:
        return relay
    with relay:
        relay.forward_ready(container.pid)
    return None


def _bind_notify_socket(container: Container) -> Relay | None:
    host = posixlite.getenv("NOTIFY_SOCKET")
    if not host:
        return None
    from ociruntime.lifecycle.notify_socket import Relay

    return Relay.bind(container.dir.path, host)


def release_init(container: Container, config: dict) -> None:
    fifo = container.dir.file(FIFO_FILE)
    try:
        fd = posix.open(fifo, posix.O_WRONLY | posix.O_NONBLOCK | posix.O_CLOEXEC)
    except OSError as err:
        if err.errno == errno.ENXIO:  # no reader: the init is gone
            raise ContainerStateError("cannot start a container that has stopped") from None
        raise OciError(f"open exec fifo: {err.strerror}") from None
    agent = None
    if (config.get("linux") or {}).get("seccomp"):  # the agent's module only when it may apply
        from ociruntime.security.seccomp_agent import target_from_config

        agent = target_from_config(config)
    listener_sock = None
    try:
        if agent is not None:  # SCMP_ACT_NOTIFY: the init sends its listener to us at exec
            from ociruntime.security.seccomp_agent import connect_to_init

            listener_sock = connect_to_init(container.dir.path)
        posix.write(fd, b"0")
        _wait_for_exec(fd, container.pid)
    except BaseException:
        if listener_sock is not None:
            listener_sock.close()
        raise
    finally:
        posix.close(fd)
    try:
        posix.unlink(fifo)
    except FileNotFoundError:
        pass
    if listener_sock is None:
        _raise_start_error(container)
        return
    with listener_sock:
        _raise_start_error(container)
        _forward_listener(container, listener_sock, agent)


def _forward_listener(container: Container, sock: socket.socket, agent: AgentTarget) -> None:
    """Send the init's seccomp listener to the agent; if that fails the init is killed, as
    runc's create fails and removes the container (seccomp_agent.forward)."""
    from ociruntime.security import seccomp_agent

    seccomp_agent.remove_socket(container.dir.path)
    seccomp_agent.forward(sock, agent, container.pid, container.hook_state("running"))


def _raise_start_error(container: Container) -> None:
    """The init leaves start.error when something failed between `start` and exec
    (a startContainer hook, the user switch, execve itself)."""
    path = container.dir.file("start.error")
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            message = fh.read().strip()
    except FileNotFoundError:
        return
    posix.unlink(path)
    if message:
        raise OciError(message, code="container.start_failed")


def _wait_for_exec(fifo_fd: int, pid: int) -> None:
    """The init holds the fifo open (O_RDWR, close-on-exec): POLLERR on our write end means
    every reader is gone, i.e. the init has exec'd (or died)."""
    poller = select.poll()
    poller.register(fifo_fd, 0)  # POLLERR/POLLHUP are always reported
    while True:
        for _fd, events in poller.poll():
            if events & (select.POLLERR | select.POLLHUP | select.POLLNVAL):
                return


def _read_config(container: Container) -> dict:
    try:
        return container.dir.read_config()
    except (OSError, ValueError):
        return {}
