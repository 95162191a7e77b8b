"""Checks on linux.resources that need no writes, run before anything is touched.

`route(group)` says where a group will be written: "v1", "v2" or None (no controller).
"""

from __future__ import annotations

from ociruntime.cgroups import convert
from ociruntime.cgroups.cgfile import Fields
from ociruntime.cgroups.groups import GROUPS, Group, first_non_default

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable

# PSI files exist in every cgroup2 directory whether or not the controller is enabled.
_CORE_UNIFIED_FILES = frozenset({"cpu.pressure", "io.pressure", "memory.pressure", "irq.pressure"})


def check(resources: dict, f: Fields, route: Callable[[Group], str | None], *,
          hugepage_sizes: list[str], unified_controllers: frozenset[str] | None,
          missing: Callable[[Group], str]) -> None:
    """Raise ConfigError for the first value this host cannot apply as asked."""
    for group in GROUPS:
        value = group.pick(resources)
        where = route(group)
        if where is None:
            bad = first_non_default(group.field, value)
            if bad:
                raise f.error(bad, missing(group))
            continue
        if value is None:
            continue
        if group.v1 == "memory":
            _memory(value, f, where)
        elif group.v1 == "cpu" and where == "v2":
            _cpu_v2(value, f)
        elif group.v1 == "blkio" and where == "v2":
            _blkio_v2(value, f)
        elif group.v1 == "hugetlb":
            _hugepages(value, f, hugepage_sizes)
    if resources.get("unified"):
        _unified(resources["unified"], f, unified_controllers)


def _memory(mem: dict, f: Fields, where: str) -> None:
    swappiness = mem.get("swappiness")
    if swappiness is not None and not 0 <= swappiness <= 100:
        raise f.error("memory.swappiness", f"invalid value {swappiness}: the range is 0-100")
    limit, swap = mem.get("limit") or 0, mem.get("swap") or 0
    if limit > 0 and swap > 0 and swap < limit:
        raise f.error("memory.swap", "memory+swap limit should be >= memory limit")
    if where != "v2":
        return
    try:
        convert.swap_to_v2(swap, limit)
    except convert.SwapError as e:
        raise f.error("memory.swap", str(e)) from None
    if swappiness is not None:
        raise f.error("memory.swappiness", "cgroup v2 has no per-cgroup swappiness")
    if mem.get("disableOOMKiller"):
        raise f.error("memory.disableOOMKiller", "cgroup v2 cannot disable the OOM killer")
    if mem.get("useHierarchy") is False:
        raise f.error("memory.useHierarchy", "cgroup v2 memory accounting is always hierarchical")
    if mem.get("kernelTCP") not in (None, 0, -1):
        raise f.error("memory.kernelTCP", "cgroup v2 has no separate kernel TCP memory limit")
    # memory.kernel is deprecated by the spec and ignored on v2, as runc does.


def _cpu_v2(c: dict, f: Fields) -> None:
    for key in ("realtimeRuntime", "realtimePeriod"):
        if c.get(key):
            raise f.error(f"cpu.{key}", "cgroup v2 does not support realtime CPU bandwidth")


def _blkio_v2(b: dict, f: Fields) -> None:
    if b.get("leafWeight"):
        raise f.error("blockIO.leafWeight", "cgroup v2 io has no leaf weight")
    for i, wd in enumerate(b.get("weightDevice") or []):
        if wd.get("leafWeight"):
            raise f.error(f"blockIO.weightDevice[{i}].leafWeight", "cgroup v2 io has no leaf weight")


def _hugepages(limits: list, f: Fields, sizes: list[str]) -> None:
    for i, item in enumerate(limits):
        size = item.get("pageSize")
        if size not in sizes:
            have = ", ".join(sizes) or "none"
            raise f.error(f"hugepageLimits[{i}].pageSize",
                          f"{size!r} is not a huge page size of this host (available: {have})")


def _unified(values: dict, f: Fields, available: frozenset[str] | None) -> None:
    if available is None:
        raise f.error("unified", "cgroup v2 is not mounted on this host")
    for key in values:
        if "/" in key:
            raise f.error(f"unified.{key}", "must be a file name (no slashes)")
        controller, dot, rest = key.partition(".")
        if not dot or not controller or not rest:
            raise f.error(f"unified.{key}", "must be in the form CONTROLLER.PARAMETER")
        if controller == "cgroup" or key in _CORE_UNIFIED_FILES:
            continue
        if controller not in available:
            have = " ".join(sorted(available)) or "none"
            raise f.error(f"unified.{key}",
                          f"controller {controller!r} is not available in the cgroup v2 "
                          f"hierarchy (available: {have})")
