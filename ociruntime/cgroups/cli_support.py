"""Helpers for the update, pause/resume, ps and events verbs (the CLI stays thin).

    resources_from_flags(flags)          runc's `update` per-field flags -> LinuxResources
    ps_json(pids) / ps_table(pids, args) `ps --format json|table`
    parse_duration("5s")                 `events --interval` (Go duration syntax)
    stats_event(id, manager)             one `events --stats` object
    events(manager, id, interval, alive) stats every interval plus OOM events, as runc
"""

from __future__ import annotations

import errno
import posix  # not os: ~1 ms of os.environ ABCs on every `ps` (ociruntime/posixlite.py)
import select
import time

from ociruntime import posixlite
from ociruntime.cgroups import cgfile
from ociruntime.cgroups.manager import CgroupManager
from ociruntime.errors import UsageError

# `ps` and `update` are what containerd calls: no typing, json, re or subprocess on their
# way (~25 ms of imports together); re and subprocess load where a flag needs them.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable, Iterator

# flag -> (group, key, parser). Both runc's `--cpu-share` and `--cpu-shares` are accepted.
_UINT, _INT, _BYTES, _STR = "uint", "int", "bytes", "str"
UPDATE_FLAGS: dict[str, tuple[str, str, str]] = {
    "memory": ("memory", "limit", _BYTES),
    "memory-swap": ("memory", "swap", _BYTES),
    "memory-reservation": ("memory", "reservation", _BYTES),
    "kernel-memory": ("memory", "kernel", _BYTES),
    "kernel-memory-tcp": ("memory", "kernelTCP", _BYTES),
    "cpu-share": ("cpu", "shares", _UINT),
    "cpu-shares": ("cpu", "shares", _UINT),
    "cpu-quota": ("cpu", "quota", _INT),
    "cpu-period": ("cpu", "period", _UINT),
    "cpu-rt-runtime": ("cpu", "realtimeRuntime", _INT),
    "cpu-rt-period": ("cpu", "realtimePeriod", _UINT),
    "cpuset-cpus": ("cpu", "cpus", _STR),
    "cpuset-mems": ("cpu", "mems", _STR),
    "pids-limit": ("pids", "limit", _INT),
    "blkio-weight": ("blockIO", "weight", _UINT),
}

_RAM = r"^(\d+(?:\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$"
_RAM_UNITS = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}


def ram_in_bytes(text: str) -> int:
    """docker/go-units RAMInBytes: '512m', '1.5g', '1KiB', '100' (binary multiples)."""
    if text == "-1":
        return -1
    import re  # only for size flags such as --memory 512m

    m = re.match(_RAM, text)
    if not m:
        raise ValueError(f"invalid size: {text!r}")
    return int(float(m.group(1)) * _RAM_UNITS.get((m.group(2) or "").lower(), 1))


def resources_from_flags(flags: dict[str, str]) -> dict:
    """{'memory': '512m', 'cpu-quota': '50000'} -> {'memory': {'limit': ...}, 'cpu': {...}}."""
    out: dict[str, dict] = {}
    for flag, text in flags.items():
        if flag not in UPDATE_FLAGS:
            raise UsageError(f"unknown update flag --{flag}")
        group, key, kind = UPDATE_FLAGS[flag]
        try:
            value: object = _parse(text, kind)
        except ValueError:
            raise UsageError(f"invalid value for --{flag}: {text!r}") from None
        out.setdefault(group, {})[key] = value
    return out


def _parse(text: str, kind: str) -> object:
    if kind == _STR:
        return text
    if kind == _BYTES:
        return ram_in_bytes(text)
    value = int(text, 10)
    if kind == _UINT and value < 0:
        raise ValueError(text)
    return value


_DURATION_PART = r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)"
_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """Go's time.ParseDuration, as `events --interval 5s` takes it -> seconds."""
    import re

    pos, total = 0, 0.0
    for m in re.finditer(_DURATION_PART, text):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _DURATION_UNITS[m.group(2)]
        pos = m.end()
    if not text or pos != len(text) or total <= 0:
        raise UsageError(f"invalid duration {text!r} (want e.g. 5s, 500ms, 1m30s)")
    return total


def ps_json(pids: list[int]) -> str:
    """What containerd parses: a bare JSON array of ints, compact as Go's encoder writes it."""
    return "[" + ",".join(str(int(pid)) for pid in sorted(pids)) + "]"


def ps_table(pids: list[int], ps_args: list[str] | None = None) -> str:
    """Run ps (default -ef) and keep the header and the lines of the container's pids."""
    import subprocess

    proc = subprocess.run(["ps", *(ps_args or ["-ef"])], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise UsageError(f"ps failed: {(proc.stderr or proc.stdout).strip()}")
    lines = proc.stdout.splitlines()
    if not lines:
        return ""
    header = lines[0].split()
    if "PID" not in header:
        raise UsageError("couldn't find PID field in ps output")
    column, wanted, out = header.index("PID"), set(pids), [lines[0]]
    for line in lines[1:]:
        fields = line.split()
        if len(fields) > column and fields[column].isdigit() and int(fields[column]) in wanted:
            out.append(line)
    return "\n".join(out) + "\n"


def stats_event(container_id: str, manager: CgroupManager) -> dict:
    return {"type": "stats", "id": container_id, "data": manager.stats()}


class OomWatcher:
    """Wakes up when the kernel records an OOM kill in the container's memory cgroup.

    v1: an eventfd registered through cgroup.event_control on memory.oom_control.
    v2: poll(POLLPRI) on memory.events, which the kernel notifies on every change.
    """

    def __init__(self, manager: CgroupManager) -> None:
        self.manager = manager
        self.fd = -1
        self._keep: list[int] = []   # v1: the memory.oom_control fd the eventfd watches
        self.count = 0
        self.count = self._count()
        paths = manager.paths()
        memory = paths.get("memory")
        if not memory:
            return
        if manager.mode == "v2" or memory == paths.get("unified"):
            self.fd = posix.open(posixlite.join(memory, "memory.events"), posix.O_RDONLY | posix.O_CLOEXEC)
            self._rearm()
        else:
            self._register_v1(memory)

    def _register_v1(self, memory: str) -> None:
        efd = posix.eventfd(0, posix.EFD_CLOEXEC)
        ofd = posix.open(posixlite.join(memory, "memory.oom_control"), posix.O_RDONLY | posix.O_CLOEXEC)
        if cgfile.try_write(memory, "cgroup.event_control", f"{efd} {ofd}") != 0:
            posix.close(efd)
            posix.close(ofd)
            return
        self.fd, self._keep = efd, [ofd]

    def _rearm(self) -> None:
        posix.lseek(self.fd, 0, 0)  # SEEK_SET
        posix.read(self.fd, 4096)

    def _count(self) -> int:
        try:
            return self.manager.oom_kill_count()
        except OSError:
            return self.count

    def poll_flags(self) -> int:
        return select.POLLIN if self._keep else select.POLLPRI | select.POLLERR

    def new_ooms(self) -> int:
        """After a wake-up: how many OOM events to report."""
        if self._keep:
            # v1 signals at the start of an OOM, before oom_kill is counted (and also when
            # the cgroup is removed): like runc, report each signal while the cgroup exists.
            try:
                signals = posix.eventfd_read(self.fd)
            except OSError as e:
                if e.errno != errno.EAGAIN:
                    raise
                return 0
            return signals if posixlite.isdir(self.manager.paths().get("memory", "")) else 0
        if self.fd < 0:
            return 0
        self._rearm()
        now = self._count()
        new, self.count = max(now - self.count, 0), now
        return new

    def close(self) -> None:
        for fd in [self.fd, *self._keep]:
            if fd >= 0:
                posix.close(fd)
        self.fd, self._keep = -1, []


def events(manager: CgroupManager, container_id: str, interval: float,
           alive: Callable[[], bool]) -> Iterator[dict]:
    """runc's `events --interval`: a stats event every interval, OOM events as they happen."""
    watcher = OomWatcher(manager)
    poller = select.poll()
    if watcher.fd >= 0:
        poller.register(watcher.fd, watcher.poll_flags())
    try:
        next_stats = time.monotonic()
        while alive():
            now = time.monotonic()
            if now >= next_stats:
                yield stats_event(container_id, manager)
                next_stats = now + interval
            timeout_ms = max(int((next_stats - time.monotonic()) * 1000), 0)
            for _ in poller.poll(min(timeout_ms, 1000)):
                for _ in range(watcher.new_ooms()):
                    yield {"type": "oom", "id": container_id}
    finally:
        watcher.close()
