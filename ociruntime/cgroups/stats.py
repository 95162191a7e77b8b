"""Container statistics in the JSON shape of `runc events --stats` (runc types/events.go).

Go's `omitempty` drops zero numbers and empty lists; the helpers below do the same so the
output matches runc 1.1 byte for byte in structure.
"""

from __future__ import annotations

import os

from ociruntime.cgroups import cgfile, convert

_NS_PER_SEC = 1_000_000_000
_U64_MAX = (1 << 64) - 1


def _omit(d: dict, *keys: str) -> dict:
    """Drop the given keys when their value is zero/empty (Go omitempty)."""
    return {k: v for k, v in d.items() if not (k in keys and not v)}


def _int(d: str, name: str, default: int = 0) -> int:
    try:
        text = cgfile.read(d, name).strip()
    except OSError:
        return default
    if text == "max":
        return _U64_MAX
    try:
        return int(text)
    except ValueError:
        return default


def _keyed(d: str, name: str) -> dict[str, int]:
    try:
        return cgfile.read_keyed(d, name)
    except OSError:
        return {}


def _ints(d: str, name: str) -> list[int]:
    try:
        return [int(x) for x in cgfile.read(d, name).split()]
    except (OSError, ValueError):
        return []


# --- cpu -------------------------------------------------------------------------------

def _cpu_usage_v1(d: str) -> dict:
    ticks = os.sysconf("SC_CLK_TCK")
    stat = _keyed(d, "cpuacct.stat")
    kernel_pc, user_pc = [], []
    try:
        rows = cgfile.read(d, "cpuacct.usage_all").splitlines()[1:]
        for row in rows:
            _, user, system = row.split()
            user_pc.append(int(user))
            kernel_pc.append(int(system))
    except (OSError, ValueError):
        pass
    usage = {
        "total": _int(d, "cpuacct.usage"),
        "percpu": _ints(d, "cpuacct.usage_percpu"),
        "percpu_kernel": kernel_pc,
        "percpu_user": user_pc,
        "kernel": stat.get("system", 0) * _NS_PER_SEC // ticks,
        "user": stat.get("user", 0) * _NS_PER_SEC // ticks,
    }
    return _omit(usage, "total", "percpu", "percpu_kernel", "percpu_user")


def _throttling(periods: int, throttled: int, time_ns: int) -> dict:
    return _omit({"periods": periods, "throttledPeriods": throttled, "throttledTime": time_ns},
                 "periods", "throttledPeriods", "throttledTime")


def cpu_v1(cpu_dir: str | None, cpuacct_dir: str | None) -> dict:
    usage = _cpu_usage_v1(cpuacct_dir) if cpuacct_dir else {"kernel": 0, "user": 0}
    st = _keyed(cpu_dir, "cpu.stat") if cpu_dir else {}
    return {"usage": usage, "throttling": _throttling(
        st.get("nr_periods", 0), st.get("nr_throttled", 0), st.get("throttled_time", 0))}


def cpu_v2(d: str) -> dict:
    st = _keyed(d, "cpu.stat")
    usage = _omit({"total": st.get("usage_usec", 0) * 1000,
                   "kernel": st.get("system_usec", 0) * 1000,
                   "user": st.get("user_usec", 0) * 1000}, "total")
    return {"usage": usage, "throttling": _throttling(
        st.get("nr_periods", 0), st.get("nr_throttled", 0), st.get("throttled_usec", 0) * 1000)}


# --- cpuset ----------------------------------------------------------------------------

def _cpus(d: str, name: str) -> list[int]:
    try:
        return convert.cpu_list(cgfile.read(d, name))
    except (OSError, ValueError):
        return []


def cpuset_v1(d: str) -> dict:
    out = {"cpus": _cpus(d, "cpuset.cpus"), "cpu_exclusive": _int(d, "cpuset.cpu_exclusive"),
           "mems": _cpus(d, "cpuset.mems")}
    for key in ("mem_hardwall", "mem_exclusive", "memory_migrate", "memory_spread_page",
                "memory_spread_slab", "memory_pressure", "sched_load_balance"):
        out[key] = _int(d, f"cpuset.{key}")
    out["sched_relax_domain_level"] = _int(d, "cpuset.sched_relax_domain_level")
    return _omit(out, "cpus", "mems")


def cpuset_v2(d: str) -> dict:
    return _omit({"cpus": _cpus(d, "cpuset.cpus.effective"), "cpu_exclusive": 0,
                  "mems": _cpus(d, "cpuset.mems.effective")}, "cpus", "mems")


def empty_cpuset() -> dict:
    keys = ("cpu_exclusive", "mem_hardwall", "mem_exclusive", "memory_migrate",
            "memory_spread_page", "memory_spread_slab", "memory_pressure", "sched_load_balance",
            "sched_relax_domain_level")
    return dict.fromkeys(keys, 0)


# --- memory ----------------------------------------------------------------------------

def _entry(limit: int, usage: int, peak: int, failcnt: int) -> dict:
    return _omit({"limit": limit, "usage": usage, "max": peak, "failcnt": failcnt}, "usage", "max")


def _entry_v1(d: str, prefix: str) -> dict:
    if not cgfile.exists(d, prefix + ".usage_in_bytes"):
        return _entry(0, 0, 0, 0)
    return _entry(_int(d, prefix + ".limit_in_bytes"), _int(d, prefix + ".usage_in_bytes"),
                  _int(d, prefix + ".max_usage_in_bytes"), _int(d, prefix + ".failcnt"))


def memory_v1(d: str) -> dict:
    raw = _keyed(d, "memory.stat")
    out = {"cache": raw.get("cache", 0), "usage": _entry_v1(d, "memory"),
           "swap": _entry_v1(d, "memory.memsw"), "kernel": _entry_v1(d, "memory.kmem"),
           "kernelTCP": _entry_v1(d, "memory.kmem.tcp"), "raw": raw}
    return _omit(out, "cache", "raw")


def memory_v2(d: str) -> dict:
    raw = _keyed(d, "memory.stat")
    limit, usage = _int(d, "memory.max"), _int(d, "memory.current")
    events = _keyed(d, "memory.events")
    swap_limit = _int(d, "memory.swap.max")
    if swap_limit != _U64_MAX and limit != _U64_MAX:
        swap_limit += limit
    swap = _entry(swap_limit if cgfile.exists(d, "memory.swap.max") else 0,
                  usage + _int(d, "memory.swap.current"), 0, 0)
    out = {"cache": raw.get("file", 0),
           "usage": _entry(limit, usage, _int(d, "memory.peak"), events.get("max", 0)),
           "swap": swap, "kernel": _entry(0, 0, 0, 0), "kernelTCP": _entry(0, 0, 0, 0), "raw": raw}
    return _omit(out, "cache", "raw")


def empty_memory() -> dict:
    blank = _entry(0, 0, 0, 0)
    return {"usage": blank, "swap": dict(blank), "kernel": dict(blank), "kernelTCP": dict(blank)}


# --- pids ------------------------------------------------------------------------------

def pids(d: str) -> dict:
    limit = _int(d, "pids.max")
    return _omit({"current": _int(d, "pids.current"), "limit": 0 if limit == _U64_MAX else limit},
                 "current", "limit")


# --- blkio / io ------------------------------------------------------------------------

def _blkio_entries(d: str, name: str) -> list[dict] | None:
    """Parse 'MAJ:MIN [Op] VALUE' lines; None when the file is missing or empty."""
    try:
        text = cgfile.read(d, name)
    except OSError:
        return None
    entries = []
    for line in text.splitlines():
        parts = line.replace(":", " ").split()
        if len(parts) < 3:
            continue
        op, value = (parts[2], parts[3]) if len(parts) >= 4 else ("", parts[2])
        entries.append(_omit({"major": int(parts[0]), "minor": int(parts[1]), "op": op,
                              "value": int(value)}, "major", "minor", "op", "value"))
    return entries or None


# runc's preference order: BFQ, CFQ, then the throttle counters. A group is used when its
# first file has entries.
_BLKIO_GROUPS = (
    (("blkio.bfq.io_serviced_recursive", "ioServicedRecursive"),
     ("blkio.bfq.io_service_bytes_recursive", "ioServiceBytesRecursive")),
    (("blkio.sectors_recursive", "sectorsRecursive"),
     ("blkio.io_service_time_recursive", "ioServiceTimeRecursive"),
     ("blkio.io_wait_time_recursive", "ioWaitTimeRecursive"),
     ("blkio.io_merged_recursive", "ioMergedRecursive"),
     ("blkio.io_queued_recursive", "ioQueueRecursive"),
     ("blkio.time_recursive", "ioTimeRecursive"),
     ("blkio.io_serviced_recursive", "ioServicedRecursive"),
     ("blkio.io_service_bytes_recursive", "ioServiceBytesRecursive")),
    (("blkio.throttle.io_serviced_recursive", "ioServicedRecursive"),
     ("blkio.throttle.io_service_bytes_recursive", "ioServiceBytesRecursive")),
    (("blkio.throttle.io_serviced", "ioServicedRecursive"),
     ("blkio.throttle.io_service_bytes", "ioServiceBytesRecursive")),
)

_BLKIO_ORDER = ("ioServiceBytesRecursive", "ioServicedRecursive", "ioQueueRecursive",
                "ioServiceTimeRecursive", "ioWaitTimeRecursive", "ioMergedRecursive",
                "ioTimeRecursive", "sectorsRecursive")


def blkio_v1(d: str) -> dict:
    for group in _BLKIO_GROUPS:
        first = _blkio_entries(d, group[0][0])
        if first is None:
            continue
        found = {group[0][1]: first}
        for name, key in group[1:]:
            found[key] = _blkio_entries(d, name) or []
        return {k: found[k] for k in _BLKIO_ORDER if found.get(k)}
    return {}


def io_v2(d: str) -> dict:
    tables: dict[str, list[dict]] = {"ioServiceBytesRecursive": [], "ioServicedRecursive": []}
    ops = {"rbytes": ("ioServiceBytesRecursive", "Read"), "wbytes": ("ioServiceBytesRecursive", "Write"),
           "rios": ("ioServicedRecursive", "Read"), "wios": ("ioServicedRecursive", "Write")}
    try:
        text = cgfile.read(d, "io.stat")
    except OSError:
        return {}
    for line in text.splitlines():
        parts = line.split()
        if not parts or ":" not in parts[0]:
            continue
        major, minor = (int(x) for x in parts[0].split(":"))
        for item in parts[1:]:
            key, _, value = item.partition("=")
            if key in ops:
                table, op = ops[key]
                tables[table].append(_omit({"major": major, "minor": minor, "op": op,
                                            "value": int(value)}, "major", "minor", "op", "value"))
    return {k: v for k, v in tables.items() if v}


# --- hugetlb ---------------------------------------------------------------------------

def hugetlb_v1(d: str, sizes: list[str]) -> dict:
    out = {}
    for size in sizes:
        p = f"hugetlb.{size}"
        if cgfile.exists(d, p + ".usage_in_bytes"):
            out[size] = _omit({"usage": _int(d, p + ".usage_in_bytes"),
                               "max": _int(d, p + ".max_usage_in_bytes"),
                               "failcnt": _int(d, p + ".failcnt")}, "usage", "max")
    return out


def hugetlb_v2(d: str, sizes: list[str]) -> dict:
    out = {}
    for size in sizes:
        p = f"hugetlb.{size}"
        if cgfile.exists(d, p + ".current"):
            out[size] = _omit({"usage": _int(d, p + ".current"),
                               "failcnt": _keyed(d, p + ".events").get("max", 0)}, "usage")
    return out
