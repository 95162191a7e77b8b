"""Putting a new container process into the container's cgroups without waiting for the
kernel's RCU grace period.

Writing a pid to cgroup.procs takes cgroup_threadgroup_rwsem for writing, and that waits
for an RCU grace period: 5-15 ms on this kind of host, on the critical path of every
create and exec. Two ways in skip it:
  - cgroup v1: a thread writing "0" to a hierarchy's `tasks` file moves only itself, and
    the kernel takes no threadgroup lock for that (Linux 5.19+; older kernels take it and
    are merely slower). Our forked processes are single-threaded, so that is the process.
  - cgroup v2: a child forked with clone3(CLONE_INTO_CGROUP) is born in the directory.
    Where that cannot be (see linux/clone.py, and `clone_into` below), the child writes
    "0" to cgroup.procs instead, and that one write waits for the grace period.

The forking process opens every file while it still sees the host's cgroup mounts (before
any setns or user namespace); the child writes through those fds. The kernel checks a
cgroup.procs or tasks write against the opener's credentials and cgroup namespace, so the
child may already be inside the container's user namespace. clone3 is checked against the
forking process's current ones instead: stage 1 forks the init as host root (the init
switches to the user namespace's root itself), and where a cgroup namespace joined by path
makes the kernel refuse, the plain fork takes over.
"""

from __future__ import annotations

import os
import posix

from ociruntime.errors import KernelError
from ociruntime import posixlite


class CgroupJoin:
    """The container's cgroup directories: v1 ones (one per hierarchy) and the v2 one."""

    def __init__(self, v1_dirs: list[str], unified_dir: str | None, *, clone_into: bool = True) -> None:
        self.v1_dirs = list(v1_dirs)
        self.unified_dir = unified_dir
        # False where being born in the v2 directory is not the same as joining it (see
        # CgroupManager.join: cpuset before Linux 6.4).
        self.clone_into = clone_into
        self._fds: list[tuple[int, str]] = []  # (fd, path) still to write "0" to, in order
        self._unified_fd = -1                   # O_PATH fd of unified_dir, for clone3
        self._single_threaded = False           # seen by open(), while /proc is the host's

    def to_message(self) -> dict:
        return {"v1": self.v1_dirs, "unified": self.unified_dir, "clone_into": self.clone_into}

    @classmethod
    def from_message(cls, data: dict) -> CgroupJoin:
        return cls(data["v1"], data["unified"], clone_into=data.get("clone_into", True))

    def open(self) -> None:
        """Open the files to join through; before any namespace is entered."""
        try:
            for d in self.v1_dirs:
                self._open_file(d, "tasks")
            if self.unified_dir:
                self._open_file(self.unified_dir, "cgroup.procs")
                if self.clone_into:
                    from ociruntime.linux.clone import single_threaded

                    self._single_threaded = single_threaded()
                    self._unified_fd = posix.open(self.unified_dir,
                                                  posix.O_PATH | posix.O_DIRECTORY | posix.O_CLOEXEC)
        except BaseException:
            self.close()
            raise

    def _open_file(self, d: str, name: str) -> None:
        path = posixlite.join(d, name)
        try:
            fd = posix.open(path, posix.O_WRONLY | posix.O_CLOEXEC)
        except OSError as err:
            raise KernelError(f"cannot join cgroup: {path}: {posix.strerror(err.errno)}",
                              err.errno) from None
        self._fds.append((fd, path))

    def fork(self) -> int:
        """os.fork(), the child born in the v2 directory where the kernel allows; the child
        then calls enter(). Opens the files first unless open() did."""
        if not self._fds:
            self.open()
        try:
            pid = self._fork_into_unified()
            return os.fork() if pid is None else pid
        except BaseException:
            self.close()
            raise

    def _fork_into_unified(self) -> int | None:
        if self._unified_fd < 0 or not self._single_threaded:
            return None
        from ociruntime.linux.clone import fork_into_cgroup

        try:
            pid = fork_into_cgroup(self._unified_fd)
        except OSError as err:
            raise KernelError(f"cannot fork into cgroup {self.unified_dir}: "
                              f"{posix.strerror(err.errno)}", err.errno) from None
        if pid == 0:  # born there: only the v1 hierarchies are left to join
            procs_fd, _ = self._fds.pop()  # open() put cgroup.procs last
            posix.close(procs_fd)
        return pid

    def enter(self) -> None:
        """In the child: join what it was not born in, then close every fd."""
        try:
            for fd, path in self._fds:
                try:
                    posix.write(fd, b"0")
                except OSError as err:
                    raise KernelError(f"cannot join cgroup: {path}: {posix.strerror(err.errno)}",
                                      err.errno) from None
        finally:
            self.close()

    def close(self) -> None:
        for fd, _ in self._fds:
            posix.close(fd)
        self._fds = []
        if self._unified_fd >= 0:
            posix.close(self._unified_fd)
            self._unified_fd = -1
