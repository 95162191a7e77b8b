"""Pay the kernel's cgroup-attach grace period in the background, while create does its
Python work, instead of on the critical path.

Moving a process into a cgroup (a write to cgroup.procs) takes the kernel's global
cgroup_threadgroup_rwsem for writing. When no attach happened recently, that first waits
for an RCU grace period (rcu_sync_enter): 8-20 ms on this 2-CPU VM, measured. Attaches
that follow within about one grace period of the previous one skip the wait. So `create`
starts a thread that moves this process into the cgroup it is already in (a no-op
migration) every few milliseconds; by the time the parent attaches stage 1 to the
container's cgroup, the grace period has already passed and the attach takes ~0.1 ms.

The thread is stopped (and joined) before create forks, so no thread is alive across
fork(). Any error (no cgroup fs, a vanished cgroup) just ends the thread: it is an
optimisation only, never a failure of create.
"""

from __future__ import annotations

import _thread
import os

_INTERVAL_SECONDS = 0.003  # well inside one grace period, so the fast window never closes


def own_procs_file(mountinfo: str = "/proc/self/mountinfo", cgroup_file: str = "/proc/self/cgroup") -> str | None:
    """cgroup.procs of the cgroup this process is in: in the cgroup2 hierarchy if one is
    mounted, else in the first v1 hierarchy with controllers."""
    from ociruntime.cgroups.layout import read_layout

    try:
        layout = read_layout(mountinfo)
        with open(cgroup_file, encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return None
    for line in lines:
        hierarchy_id, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        if hierarchy_id == "0" and layout.unified is not None:
            return _procs_file(layout.unified.mountpoint, layout.unified.root, path)
    for line in lines:
        _, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        for hierarchy in layout.v1:
            if controllers and set(controllers.split(",")) == set(hierarchy.controllers):
                return _procs_file(hierarchy.mountpoint, hierarchy.root, path)
    return None


def _procs_file(mountpoint: str, mount_root: str, path: str) -> str | None:
    """Map a /proc/self/cgroup path to a file under the mount (None if outside it)."""
    if mount_root != "/" and not (path == mount_root or path.startswith(mount_root + "/")):
        return None
    relative = path[len(mount_root):] if mount_root != "/" else path
    return mountpoint + relative.rstrip("/") + "/cgroup.procs"


class AttachWarmup:
    """Runs the no-op migrations until stop(); use as a context manager. start() after
    stop() runs a new thread (create stops it around its fork)."""

    def __init__(self, procs_file: str | None) -> None:
        self._procs_file = procs_file
        self._stop = _thread.allocate_lock()
        self._done = _thread.allocate_lock()
        self._running = False
        self.thread_id = 0  # the kernel tid of the thread once it runs (tests watch /proc/self/task)

    def start(self) -> AttachWarmup:
        if self._procs_file is None:
            return self
        self._stop.acquire()
        self._done.acquire()
        self._running = True
        try:
            _thread.start_new_thread(self._loop, (self._procs_file, str(os.getpid()).encode()))
        except RuntimeError:  # no thread available: skip the optimisation
            self._stop.release()
            self._done.release()
            self._running = False
        return self

    def _loop(self, procs_file: str, pid: bytes) -> None:
        self.thread_id = _thread.get_native_id()
        try:
            while True:
                fd = os.open(procs_file, os.O_WRONLY | os.O_CLOEXEC)
                try:
                    os.write(fd, pid)
                finally:
                    os.close(fd)
                if self._stop.acquire(timeout=_INTERVAL_SECONDS):
                    self._stop.release()  # free again, so that start() can run a new thread
                    return
        except OSError:
            return
        finally:
            self._done.release()

    def stop(self) -> None:
        """Stop the thread and wait until it has exited (it may be mid-write)."""
        if not self._running:
            return
        self._running = False
        self._stop.release()
        self._done.acquire()  # released by the thread as its very last step
        self._done.release()

    def __enter__(self) -> AttachWarmup:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
