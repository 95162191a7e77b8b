"""Pure conversions of OCI (cgroup v1 shaped) values to cgroup v2 files, as runc does."""

from __future__ import annotations

import math
import os


def cpu_shares_to_weight(shares: int) -> int:
    """cpu.shares [2..262144] -> cpu.weight [1..10000], runc >= 1.3.2's quadratic fit.

    The curve passes through (2, 1), (1024, 100) and (262144, 10000). 0 means unset.
    """
    if shares == 0:
        return 0
    if shares <= 2:
        return 1
    if shares >= 262144:
        return 10000
    lg = math.log2(shares)
    exponent = (lg * lg + 125 * lg) / 612.0 - 7.0 / 34.0
    return int(math.ceil(10 ** exponent))


def blkio_weight_to_io_weight(weight: int) -> int:
    """blkio.weight [10..1000] -> io.weight [1..10000], linearly. 0 means unset."""
    if weight == 0:
        return 0
    return 1 + (weight - 10) * 9999 // 990


class SwapError(ValueError):
    pass


def swap_to_v2(swap: int, limit: int) -> int:
    """OCI memory.swap is memory+swap; cgroup v2 memory.swap.max is swap alone.

    Returns -1 for "max", 0 for "unset". Raises SwapError when no value makes sense.
    """
    if limit == -1 and swap == 0:
        return -1  # unlimited memory and no swap given: unlimit both, as on v1
    if swap in (-1, 0):
        return swap
    if limit == -1:
        return swap
    if limit == 0:
        raise SwapError("unable to set swap limit without memory limit")
    if limit < 0:
        raise SwapError(f"invalid memory value: {limit}")
    if swap < limit:
        raise SwapError("memory+swap limit should be >= memory limit")
    return swap - limit


def v2_number(value: int) -> str:
    """Value for a cgroup v2 .max/.low/.high file: -1 -> 'max', 0 -> '' (leave alone)."""
    if value == 0:
        return ""
    if value == -1:
        return "max"
    return str(value)


def cpu_max(quota: int, period: int) -> str:
    """cpu.max 'QUOTA PERIOD'; a quota <= 0 is 'max', period 0 takes the kernel default."""
    head = str(quota) if quota > 0 else "max"
    return f"{head} {period or 100000}"


def hugepage_sizes(root: str = "/sys/kernel/mm/hugepages") -> list[str]:
    """Page sizes in the spelling cgroup files use: hugepages-2048kB -> '2MB'."""
    try:
        names = os.listdir(root)
    except OSError:
        return []
    sizes = []
    for name in sorted(names):
        if not name.startswith("hugepages-") or not name.endswith("kB"):
            continue
        try:
            kb = int(name[len("hugepages-"):-2])
        except ValueError:
            continue
        sizes.append(hugepage_size_name(kb))
    return sizes


def hugepage_size_name(kb: int) -> str:
    if kb >= 1 << 20:
        return f"{kb >> 20}GB"
    if kb >= 1 << 10:
        return f"{kb >> 10}MB"
    return f"{kb}KB"


def cpu_list(text: str) -> list[int]:
    """'0-2,5' -> [0, 1, 2, 5] (cpuset.cpus / cpuset.mems syntax)."""
    out: list[int] = []
    for part in text.strip().split(","):
        if not part:
            continue
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out
