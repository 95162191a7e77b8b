"""`kill`: send a signal to the init (or, with all=True, to every process in the container)."""

from __future__ import annotations

import posix
import _signal as signal_module  # not signal: its enums cost ~4-5 ms per verb

from ociruntime.errors import ContainerStateError, OciError
from ociruntime.lifecycle.container import load
from ociruntime.state import status as st


def kill(root: str, container_id: str, signal: int, *, all_processes: bool = False) -> None:
    container = load(root, container_id, shared_lock=True)
    status = container.status()
    if status == st.STOPPED and not all_processes:
        raise ContainerStateError("container not running")
    if all_processes:
        # As runc: --all signals whatever is still in the cgroup even after the init exited.
        # containerd's shim relies on it: when the init of a container that shares a PID
        # namespace exits, it runs `kill --all ID 9` to end the processes that outlive it.
        cgroup = container.cgroup()
        if cgroup is not None:
            pids = cgroup.pids()
        else:
            pids = [] if status == st.STOPPED else [container.pid]
        for pid in pids:
            try:
                posix.kill(pid, signal)
            except ProcessLookupError:
                pass
        if status == st.PAUSED and cgroup is not None and signal == signal_module.SIGKILL:
            cgroup.thaw()  # let the killed tasks actually die
        return
    send_to_init(container.pid, signal)
    if status == st.PAUSED and signal == signal_module.SIGKILL:
        # A v1-frozen init cannot die until thawed (runc#3217); podman's kill of a paused
        # container waits for that exit.
        cgroup = container.cgroup()
        if cgroup is not None:
            cgroup.thaw()


def send_to_init(pid: int, signal: int) -> None:
    """Signal through a pidfd: the pid was checked against its start time just before."""
    try:
        pidfd = posix.pidfd_open(pid)
    except ProcessLookupError:
        raise ContainerStateError("container not running") from None
    try:
        signal_module.pidfd_send_signal(pidfd, signal)
    except ProcessLookupError:
        raise OciError("no such process", code="container.state") from None
    finally:
        posix.close(pidfd)
