"""fork(2) into a cgroup v2 directory (clone3 with CLONE_INTO_CGROUP).

Being born in the cgroup costs nothing extra; moving a process there afterwards through
cgroup.procs waits for an RCU grace period, 5-15 ms on this kind of host.
"""

from __future__ import annotations

import errno
import posix

from ociruntime.linux._lib import lib, os_error

# What clone3 answers where the kernel predates CLONE_INTO_CGROUP (Linux 5.7) or clone3.
_UNSUPPORTED = frozenset({errno.ENOSYS, errno.E2BIG, errno.EINVAL})


def fork_into_cgroup(cgroup_fd: int) -> int | None:
    """Fork as os.fork() does, the child born in the cgroup v2 directory cgroup_fd refers
    to (opened O_PATH or O_RDONLY).

    Returns the child's pid in the parent and 0 in the child; None, with nothing forked,
    where the kernel cannot do it or other threads run (the caller then forks and joins
    the usual way): the raw syscall skips glibc's fork handlers, which in a threaded
    process reset the locks other threads may hold (malloc's among them).
    Raises OSError when the kernel refuses the fork (EBUSY: the directory has controllers
    enabled for its children; EAGAIN: pids.max reached).
    """
    if len(posix.listdir("/proc/self/task")) != 1:
        return None
    pid = lib.ocr_fork_into_cgroup(cgroup_fd)
    if pid >= 0:
        return pid
    if -pid in _UNSUPPORTED:
        return None
    raise os_error(-pid, "clone3(CLONE_INTO_CGROUP)")
