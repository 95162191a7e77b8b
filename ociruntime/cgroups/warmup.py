"""Pay the kernel's cgroup-attach grace period in the background, while create (or exec)
does its Python work, instead of on the critical path.

Moving a process into a cgroup (a write to cgroup.procs) takes the kernel's global
cgroup_threadgroup_rwsem for writing. When no attach happened recently, that first waits
for an RCU grace period (rcu_sync_enter): 8-20 ms on this 2-CPU VM, measured, and the
writer holds cgroup_mutex meanwhile, so cgroup mkdirs wait as well. Attaches that follow
within about one grace period of the previous one skip the wait.

So the cli starts ociruntime-attach-warmer (csrc/warmer/attach_warmer.c) as soon as it
knows the verb is create, run or exec: a small process that moves itself into the cgroup it
is already in (a no-op migration) every few milliseconds. By the time the runtime makes the
container's cgroups and attaches stage 1, the grace period has passed. A separate process,
not a thread: the runtime forks stage 1 while the warmer may still be waiting in the kernel.

The warmer reads EOF on its stdin when the runtime and its children are gone, and
finish() kills and reaps it once the container's processes are attached. Any failure
(no cgroup fs, no warmer binary, a vanished cgroup) means no warm-up, never an error.
"""

from __future__ import annotations

import os

WARMER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ociruntime-attach-warmer")
_running: AttachWarmup | None = None


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
    """One warmer process: start() spawns it, finish() kills and reaps it (idempotent)."""

    def __init__(self, procs_file: str | None, warmer: str = WARMER) -> None:
        self._procs_file = procs_file
        self._warmer = warmer
        self._pipe_w = -1
        self.pid = 0  # the warmer's pid while it runs (tests watch it)

    def start(self) -> AttachWarmup:
        if self._procs_file is None or self.pid:
            return self
        try:
            pipe_r, pipe_w = os.pipe2(os.O_CLOEXEC)
        except OSError:  # out of fds: no warm-up (create then fails, or not, on its own)
            return self
        try:
            self.pid = os.posix_spawn(self._warmer, [self._warmer, self._procs_file], {},
                                      file_actions=[(os.POSIX_SPAWN_DUP2, pipe_r, 0)])
        except OSError:  # no warmer binary (an incomplete build): no warm-up
            os.close(pipe_w)
            return self
        finally:
            os.close(pipe_r)
        self._pipe_w = pipe_w
        return self

    def finish(self) -> int | None:
        """Stop the warmer; return its wait status (None if none ran or the kernel reaped it)."""
        if not self.pid:
            return None
        os.close(self._pipe_w)
        self._pipe_w = -1
        try:
            os.kill(self.pid, 9)  # SIGKILL; a forked child may still hold the pipe open
        except ProcessLookupError:
            pass
        try:
            _, status = os.waitpid(self.pid, 0)
        except ChildProcessError:  # SIGCHLD ignored by whoever started us: already reaped
            status = None
        self.pid = 0
        return status


def start_warmup() -> AttachWarmup:
    """This process's warmer: started on the first call (the cli's), reused until finished."""
    global _running
    if _running is None or not _running.pid:
        _running = AttachWarmup(own_procs_file()).start()
    return _running


def finish_warmup() -> None:
    """Stop this process's warmer if one runs (the cli's exit path: a verb that failed
    before create or exec finished it leaves no process behind)."""
    if _running is not None:
        _running.finish()
