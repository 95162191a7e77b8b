"""linux.resources -> cgroup v2 control files, converting v1-shaped values as runc does.

Fields with no v2 equivalent are rejected by validate.py before anything is written.
"""

from __future__ import annotations

import errno

from ociruntime.cgroups import cgfile, convert, setters_v1
from ociruntime.cgroups.cgfile import Fields
from ociruntime.cgroups.setters_v1 import check_memory_usage, rdma  # noqa: F401 (re-export)


def _set(d: str, name: str, value: object, field: str, f: Fields) -> None:
    cgfile.write(d, name, str(value), field, f)


def memory(d: str, mem: dict, f: Fields, *, updating: bool) -> None:
    limit = mem.get("limit") or 0
    swap = mem.get("swap") or 0
    if updating and mem.get("checkBeforeUpdate"):
        check_memory_usage(d, "memory.current", limit, f)
    if limit or swap:
        try:
            swap_v2 = convert.swap_to_v2(swap, limit)
        except convert.SwapError as e:
            raise f.error("memory.swap", str(e)) from None
        text = convert.v2_number(swap_v2)
        if not text and swap > 0:
            text = "0"   # swap == limit: no swap at all
        if text:
            err = cgfile.try_write(d, "memory.swap.max", text)
            # Without swap accounting there is no file; "max" and "0" then already hold.
            if err and not (err == errno.ENOENT and text in ("max", "0")):
                _set(d, "memory.swap.max", text, "memory.swap", f)
    if convert.v2_number(limit):
        _set(d, "memory.max", convert.v2_number(limit), "memory.limit", f)
    if convert.v2_number(mem.get("reservation") or 0):
        _set(d, "memory.low", convert.v2_number(mem["reservation"]), "memory.reservation", f)


def cpu(d: str, c: dict, f: Fields, *, updating: bool) -> None:
    if c.get("idle") is not None:
        cgfile.write_unless_default(d, "cpu.idle", str(c["idle"]), "cpu.idle", f, "0")
    weight = convert.cpu_shares_to_weight(c.get("shares") or 0)
    if weight:
        _set(d, "cpu.weight", weight, "cpu.shares", f)
    quota, period, burst = c.get("quota") or 0, c.get("period") or 0, c.get("burst")
    pending_burst = None
    if burst is not None:
        err = cgfile.try_write(d, "cpu.max.burst", str(burst))
        # A burst above the current quota is refused until the new quota is in place.
        if err == errno.EINVAL and quota:
            pending_burst = burst
        elif err == errno.ENOENT and burst == 0:
            pass   # no burst support (before 5.14): a burst of 0 asks for nothing
        elif err:
            _set(d, "cpu.max.burst", burst, "cpu.burst", f)
    if quota or period:
        _set(d, "cpu.max", convert.cpu_max(quota, period), "cpu.quota" if quota else "cpu.period", f)
    if pending_burst is not None:
        _set(d, "cpu.max.burst", pending_burst, "cpu.burst", f)


def cpuset(d: str, c: dict, f: Fields, *, updating: bool) -> None:
    if c.get("cpus"):
        _set(d, "cpuset.cpus", c["cpus"], "cpu.cpus", f)
    if c.get("mems"):
        _set(d, "cpuset.mems", c["mems"], "cpu.mems", f)


def pids(d: str, p: dict, f: Fields, *, updating: bool) -> None:
    limit = p.get("limit") or 0
    if limit:
        _set(d, "pids.max", "max" if limit < 0 else limit, "pids.limit", f)


_IO_MAX_KEYS = (
    ("throttleReadBpsDevice", "rbps"),
    ("throttleWriteBpsDevice", "wbps"),
    ("throttleReadIOPSDevice", "riops"),
    ("throttleWriteIOPSDevice", "wiops"),
)


def io(d: str, b: dict, f: Fields, *, updating: bool) -> None:
    # BFQ takes blkio-range weights as they are; io.weight needs the conversion.
    bfq = cgfile.exists(d, "io.bfq.weight")
    if b.get("weight"):
        if bfq:
            _set(d, "io.bfq.weight", b["weight"], "blockIO.weight", f)
        else:
            _set(d, "io.weight", convert.blkio_weight_to_io_weight(b["weight"]), "blockIO.weight", f)
    for i, wd in enumerate(b.get("weightDevice") or []):
        if not wd.get("weight"):
            continue
        dev = f"{wd['major']}:{wd['minor']}"
        field = f"blockIO.weightDevice[{i}].weight"
        if bfq:
            _set(d, "io.bfq.weight", f"{dev} {wd['weight']}", field, f)
        else:
            _set(d, "io.weight", f"{dev} {convert.blkio_weight_to_io_weight(wd['weight'])}", field, f)
    for key, name in _IO_MAX_KEYS:
        for i, td in enumerate(b.get(key) or []):
            _set(d, "io.max", f"{td['major']}:{td['minor']} {name}={td['rate']}", f"blockIO.{key}[{i}]", f)


def hugetlb(d: str, limits: list, f: Fields, *, updating: bool) -> None:
    setters_v1.hugetlb(d, limits, f, updating=updating, suffix="max")


def unified(d: str, values: dict, f: Fields, *, updating: bool) -> None:
    """Verbatim writes; a multi-line value (io.max) is written one line at a time."""
    for key, value in values.items():
        lines = [line for line in str(value).split("\n") if line.strip()] or [str(value)]
        for line in lines:
            _set(d, key, line, f"unified.{key}", f)
