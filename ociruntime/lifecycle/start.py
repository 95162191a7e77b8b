"""`start`: release the waiting init through the exec fifo, wait until it has exec'd the
user process, then run the poststart hooks."""

from __future__ import annotations

import errno
import os
import select

from ociruntime.errors import ContainerStateError, OciError
from ociruntime.lifecycle.container import Container, load
from ociruntime.state import status as st
from ociruntime.state.store import FIFO_FILE


def start(root: str, container_id: str) -> None:
    container = load(root, container_id)
    status = container.status()
    if status == st.STOPPED:
        raise ContainerStateError("cannot start a container that has stopped")
    if status != st.CREATED:
        raise ContainerStateError("cannot start an already running container")
    release_init(container)
    poststart = _poststart_hooks(container)
    if poststart:
        from ociruntime.hooks import run_hooks_warn

        run_hooks_warn(poststart, container.hook_state("running"), "poststart")


def release_init(container: Container) -> None:
    fifo = container.dir.file(FIFO_FILE)
    try:
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as err:
        if err.errno == errno.ENXIO:  # no reader: the init is gone
            raise ContainerStateError("cannot start a container that has stopped") from None
        raise OciError(f"open exec fifo: {err.strerror}") from None
    try:
        os.write(fd, b"0")
        _wait_for_exec(fd, container.pid)
    finally:
        os.close(fd)
    try:
        os.unlink(fifo)
    except FileNotFoundError:
        pass
    _raise_start_error(container)


def _raise_start_error(container: Container) -> None:
    """The init leaves start.error when something failed between `start` and exec
    (a startContainer hook, the user switch, execve itself)."""
    path = container.dir.file("start.error")
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            message = fh.read().strip()
    except FileNotFoundError:
        return
    os.unlink(path)
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


def _poststart_hooks(container: Container) -> list[dict]:
    try:
        config = container.dir.read_config()
    except (OSError, ValueError):
        return []
    return list((config.get("hooks") or {}).get("poststart") or [])
