"""linux.resources -> cgroup v1 control files, with runc's file names and write order.

Each function takes the controller's directory, the OCI sub-object and how to name
fields in errors. A field that is absent (or 0 where runc treats 0 as "unset") is not
written. ``updating`` is True for `update` on a running container.
"""

from __future__ import annotations

import errno

from ociruntime.cgroups import cgfile
from ociruntime.cgroups.cgfile import Fields

MEMSW = "memory.memsw.limit_in_bytes"
MEM_LIMIT = "memory.limit_in_bytes"


def _set(d: str, name: str, value: object, field: str, f: Fields) -> None:
    cgfile.write(d, name, str(value), field, f)


def _flag(value: object) -> str:
    return "1" if value else "0"


def check_memory_usage(d: str, usage_file: str, limit: int | None, f: Fields) -> None:
    """memory.checkBeforeUpdate: refuse a limit below what the container already uses."""
    if not limit or limit < 0:
        return
    usage = cgfile.read_int(d, usage_file)
    if usage >= limit:
        raise f.error("memory.limit", f"rejecting memory limit {limit} below current usage {usage}")


def _set_limit(d: str, limit: int, f: Fields) -> None:
    err = cgfile.try_write(d, MEM_LIMIT, str(limit))
    if err == errno.EBUSY:
        usage = cgfile.read_int(d, "memory.usage_in_bytes")
        peak = cgfile.read_int(d, "memory.max_usage_in_bytes")
        raise f.error("memory.limit", f"unable to set memory limit to {limit} "
                      f"(current usage: {usage}, peak usage: {peak}): {d}/{MEM_LIMIT}")
    if err:
        _set(d, MEM_LIMIT, limit, "memory.limit", f)   # re-run for the standard error


def memory(d: str, mem: dict, f: Fields, *, updating: bool) -> None:
    limit = mem.get("limit") or 0
    swap = mem.get("swap") or 0
    if updating and mem.get("checkBeforeUpdate"):
        check_memory_usage(d, "memory.usage_in_bytes", limit, f)
    if limit == -1 and swap == 0 and cgfile.exists(d, MEMSW):
        swap = -1  # unlimited memory with swap unset: unlimit swap as well
    # memsw must stay >= the memory limit at every step: raise swap first when growing.
    swap_first = bool(limit and swap) and (swap == -1 or cgfile.read_int(d, MEM_LIMIT) < swap)
    if swap_first:
        _set(d, MEMSW, swap, "memory.swap", f)
    if limit:
        _set_limit(d, limit, f)
    if swap and not swap_first:
        _set(d, MEMSW, swap, "memory.swap", f)
    if mem.get("reservation"):
        _set(d, "memory.soft_limit_in_bytes", mem["reservation"], "memory.reservation", f)
    if mem.get("kernel"):
        _set(d, "memory.kmem.limit_in_bytes", mem["kernel"], "memory.kernel", f)
    if mem.get("kernelTCP"):
        _set(d, "memory.kmem.tcp.limit_in_bytes", mem["kernelTCP"], "memory.kernelTCP", f)
    if mem.get("swappiness") is not None:
        _set(d, "memory.swappiness", mem["swappiness"], "memory.swappiness", f)
    if mem.get("disableOOMKiller") is not None:
        _set(d, "memory.oom_control", _flag(mem["disableOOMKiller"]), "memory.disableOOMKiller", f)
    if mem.get("useHierarchy") is not None:
        _set(d, "memory.use_hierarchy", _flag(mem["useHierarchy"]), "memory.useHierarchy", f)


def cpu(d: str, c: dict, f: Fields, *, updating: bool) -> None:
    shares = c.get("shares") or 0
    if shares:
        _set(d, "cpu.shares", shares, "cpu.shares", f)
        got = cgfile.read_int(d, "cpu.shares")
        if got != shares:
            bound = "maximum" if shares > got else "minimum"
            raise f.error("cpu.shares", f"the {bound} allowed cpu-shares is {got}")
    _cpu_bandwidth(d, c, f)
    if c.get("idle") is not None:
        cgfile.write_unless_default(d, "cpu.idle", str(c["idle"]), "cpu.idle", f, "0")
    set_realtime(d, c, f)


def _cpu_bandwidth(d: str, c: dict, f: Fields) -> None:
    period, quota, burst = c.get("period") or 0, c.get("quota") or 0, c.get("burst")
    retry_period = False
    if period:
        err = cgfile.try_write(d, "cpu.cfs_period_us", str(period))
        # A smaller period can exceed the parent's bandwidth until the quota is lowered.
        if err == errno.EINVAL and quota:
            retry_period = True
        elif err:
            _set(d, "cpu.cfs_period_us", period, "cpu.period", f)
    if quota:
        err = cgfile.try_write(d, "cpu.cfs_quota_us", str(quota))
        if err == errno.EINVAL and burst is not None:
            # A lower quota can be refused while the old burst exceeds it.
            _set(d, "cpu.cfs_burst_us", burst, "cpu.burst", f)
            burst = None
            err = cgfile.try_write(d, "cpu.cfs_quota_us", str(quota))
        if err:
            _set(d, "cpu.cfs_quota_us", quota, "cpu.quota", f)
        if retry_period:
            _set(d, "cpu.cfs_period_us", period, "cpu.period", f)
    if burst is not None:
        cgfile.write_unless_default(d, "cpu.cfs_burst_us", str(burst), "cpu.burst", f, "0")


def set_realtime(d: str, c: dict, f: Fields) -> None:
    """Before any task joins: a SCHED_RR task cannot join a group without RT runtime."""
    if c.get("realtimePeriod"):
        _set(d, "cpu.rt_period_us", c["realtimePeriod"], "cpu.realtimePeriod", f)
    if c.get("realtimeRuntime"):
        _set(d, "cpu.rt_runtime_us", c["realtimeRuntime"], "cpu.realtimeRuntime", f)


def cpuset(d: str, c: dict, f: Fields, *, updating: bool) -> None:
    if c.get("cpus"):
        _set(d, "cpuset.cpus", c["cpus"], "cpu.cpus", f)
    if c.get("mems"):
        _set(d, "cpuset.mems", c["mems"], "cpu.mems", f)


def pids(d: str, p: dict, f: Fields, *, updating: bool) -> None:
    limit = p.get("limit") or 0
    if limit:
        _set(d, "pids.max", "max" if limit < 0 else limit, "pids.limit", f)


def _blkio_weight_files(d: str) -> tuple[str, str]:
    """CFQ has blkio.weight; with BFQ the files are blkio.bfq.weight(_device)."""
    if not cgfile.exists(d, "blkio.weight") and cgfile.exists(d, "blkio.bfq.weight"):
        return "blkio.bfq.weight", "blkio.bfq.weight_device"
    return "blkio.weight", "blkio.weight_device"


_THROTTLES = (
    ("throttleReadBpsDevice", "blkio.throttle.read_bps_device"),
    ("throttleWriteBpsDevice", "blkio.throttle.write_bps_device"),
    ("throttleReadIOPSDevice", "blkio.throttle.read_iops_device"),
    ("throttleWriteIOPSDevice", "blkio.throttle.write_iops_device"),
)


def blkio(d: str, b: dict, f: Fields, *, updating: bool) -> None:
    weight_file, weight_device_file = _blkio_weight_files(d)
    if b.get("weight"):
        _set(d, weight_file, b["weight"], "blockIO.weight", f)
    if b.get("leafWeight"):
        _set(d, "blkio.leaf_weight", b["leafWeight"], "blockIO.leafWeight", f)
    for i, wd in enumerate(b.get("weightDevice") or []):
        dev = f"{wd['major']}:{wd['minor']}"
        if wd.get("weight"):
            _set(d, weight_device_file, f"{dev} {wd['weight']}", f"blockIO.weightDevice[{i}].weight", f)
        if wd.get("leafWeight"):
            _set(d, "blkio.leaf_weight_device", f"{dev} {wd['leafWeight']}",
                 f"blockIO.weightDevice[{i}].leafWeight", f)
    for key, name in _THROTTLES:
        for i, td in enumerate(b.get(key) or []):
            _set(d, name, f"{td['major']}:{td['minor']} {td['rate']}", f"blockIO.{key}[{i}]", f)


def hugetlb(d: str, limits: list, f: Fields, *, updating: bool, suffix: str = "limit_in_bytes") -> None:
    """hugetlb.<size>.<suffix> (v1: limit_in_bytes, v2: max), and the .rsvd. twin where the
    kernel has reservation accounting (5.7+), which is the better limit."""
    skip_rsvd = False
    for i, item in enumerate(limits):
        prefix, value = f"hugetlb.{item['pageSize']}", str(item["limit"])
        _set(d, f"{prefix}.{suffix}", value, f"hugepageLimits[{i}].limit", f)
        if skip_rsvd:
            continue
        if cgfile.exists(d, f"{prefix}.rsvd.{suffix}"):
            _set(d, f"{prefix}.rsvd.{suffix}", value, f"hugepageLimits[{i}].limit", f)
        else:
            skip_rsvd = True


def net_cls(d: str, class_id: int, f: Fields, *, updating: bool) -> None:
    _set(d, "net_cls.classid", class_id, "network.classID", f)


def net_prio(d: str, priorities: list, f: Fields, *, updating: bool) -> None:
    for i, p in enumerate(priorities):
        _set(d, "net_prio.ifpriomap", f"{p['name']} {p['priority']}", f"network.priorities[{i}]", f)


def rdma(d: str, devices: dict, f: Fields, *, updating: bool) -> None:
    """Same file format on v1 and v2: 'DEV hca_handle=N hca_object=M'."""
    for name, limits in devices.items():
        line = name
        if limits.get("hcaHandles") is not None:
            line += f" hca_handle={limits['hcaHandles']}"
        if limits.get("hcaObjects") is not None:
            line += f" hca_object={limits['hcaObjects']}"
        _set(d, "rdma.max", line, f"rdma.{name}", f)
