"""Waiting for a process that is not our child (a container init) to exit, by pidfd.

Its own module so that `delete --force` waits without importing the create machinery
(process/parent.py), nor os (see ociruntime/posixlite.py)."""

from __future__ import annotations

import posix


def wait_for_exit(pid: int, timeout: float) -> bool:
    """Wait for a process that is not our child to exit (it may stay a zombie)."""
    import select

    try:
        pidfd = posix.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        ready, _, _ = select.select([pidfd], [], [], timeout)
        if ready:
            try:  # reap it if it happens to be ours (run's subreaper)
                posix.waitpid(pid, posix.WNOHANG)
            except ChildProcessError:
                pass
        return bool(ready)
    finally:
        posix.close(pidfd)
