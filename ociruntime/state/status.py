"""Container status is derived from the kernel, never stored.

stopped: the init pid is gone, a zombie, or has another start time (pid reuse);
paused: its cgroup is frozen; created: the exec fifo still exists; running otherwise.
"""

from __future__ import annotations

CREATED = "created"
RUNNING = "running"
PAUSED = "paused"
STOPPED = "stopped"
CREATING = "creating"


def read_start_time(pid: int) -> int | None:
    """Field 22 of /proc/<pid>/stat (start time in clock ticks), None if gone or a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            data = fh.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # comm may contain spaces and parentheses: split after the last ')'
    fields = data[data.rindex(b")") + 2:].split()
    if fields[0] in (b"Z", b"X"):
        return None
    return int(fields[19])


def init_alive(state: dict) -> bool:
    pid = state.get("pid", 0)
    if pid <= 0:
        return False
    return read_start_time(pid) == state.get("start_time")


def derive_status(state: dict, fifo_exists: bool) -> str:
    if not init_alive(state):
        return STOPPED
    cgroup = state.get("cgroup")
    if cgroup:
        from ociruntime.cgroups import is_paused

        try:
            if is_paused(cgroup):
                return PAUSED
        except OSError:
            pass
    return CREATED if fifo_exists else RUNNING
