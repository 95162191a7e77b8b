"""fork(2) into a cgroup v2 directory (clone3 with CLONE_INTO_CGROUP).

Being born in the cgroup costs nothing extra; moving a process there afterwards through
cgroup.procs waits for an RCU grace period, 5-15 ms on this kind of host.
"""

from __future__ import annotations

import errno
import posix

from ociruntime.linux._lib import lib, os_error

# Where a plain fork (and a cgroup.procs write by the child) does the job instead:
# ENOSYS, E2BIG, EINVAL: a kernel older than clone3 or CLONE_INTO_CGROUP (Linux 5.7);
# ENOENT, EACCES: the checks clone3 makes with the caller's current cgroup namespace and
#   credentials (nsdelegate, a cgroup namespace joined by path), where a cgroup.procs
#   write goes by those of the file's opener;
# EPERM: a seccomp filter of the caller's that refuses clone3.
_PLAIN_FORK_INSTEAD = frozenset({errno.ENOSYS, errno.E2BIG, errno.EINVAL, errno.ENOENT,
                                 errno.EACCES, errno.EPERM})


def single_threaded() -> bool:
    """Whether this process runs one thread (False when /proc cannot tell)."""
    try:
        return len(posix.listdir("/proc/self/task")) == 1
    except OSError:
        return False


def fork_into_cgroup(cgroup_fd: int) -> int | None:
    """Fork as os.fork() does, the child born in the cgroup v2 directory cgroup_fd refers
    to (opened O_PATH or O_RDONLY). Only for a single-threaded caller (single_threaded()):
    the raw syscall skips glibc's fork handlers, which in a threaded process reset the
    locks other threads may hold (malloc's among them).

    Returns the child's pid in the parent and 0 in the child; None, with nothing forked,
    where a plain fork must do instead (see _PLAIN_FORK_INSTEAD). Raises OSError when the
    kernel refuses the fork itself (EBUSY: the directory has controllers enabled for its
    children; EAGAIN: pids.max reached; ENODEV: the directory was removed).
    """
    pid = lib.ocr_fork_into_cgroup(cgroup_fd)
    if pid >= 0:
        return pid
    if -pid in _PLAIN_FORK_INSTEAD:
        return None
    raise os_error(-pid, "clone3(CLONE_INTO_CGROUP)")
