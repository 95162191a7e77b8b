"""The resource groups of linux.resources: which controller serves each (v1 and v2 names),
how to pick the group's value out of the resources object, and its setters.

Devices, freezer and unified are handled by the manager itself (they are not plain files).
"""

from __future__ import annotations

from ociruntime.cgroups import setters_v1 as v1
from ociruntime.cgroups import setters_v2 as v2

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable

    Setter = Callable[..., None]


def _sub(key: str, keep: Callable[[str], bool] = lambda k: True) -> Callable[[dict], Any]:
    def pick(resources: dict) -> Any:
        value = resources.get(key)
        if isinstance(value, dict):
            value = {k: v for k, v in value.items() if keep(k)}
            return value or None
        return value
    return pick


def _network(key: str) -> Callable[[dict], Any]:
    def pick(resources: dict) -> Any:
        return (resources.get("network") or {}).get(key)
    return pick


_CPUSET_KEYS = ("cpus", "mems")


class Group:
    __slots__ = ("field", "v1", "v2", "pick", "set_v1", "set_v2")

    def __init__(self, field: str, v1: str, v2: str | None, pick: Callable[[dict], Any],
                 set_v1: Setter, set_v2: Setter | None) -> None:
        self.field = field      # JSON path below linux.resources, for messages
        self.v1 = v1            # v1 controller name
        self.v2 = v2            # v2 controller name; None when v2 has no equivalent
        self.pick = pick
        self.set_v1 = set_v1
        self.set_v2 = set_v2


GROUPS: tuple[Group, ...] = (
    Group("cpu", "cpuset", "cpuset", _sub("cpu", lambda k: k in _CPUSET_KEYS), v1.cpuset, v2.cpuset),
    Group("memory", "memory", "memory", _sub("memory"), v1.memory, v2.memory),
    Group("cpu", "cpu", "cpu", _sub("cpu", lambda k: k not in _CPUSET_KEYS), v1.cpu, v2.cpu),
    Group("pids", "pids", "pids", _sub("pids"), v1.pids, v2.pids),
    Group("blockIO", "blkio", "io", _sub("blockIO"), v1.blkio, v2.io),
    Group("hugepageLimits", "hugetlb", "hugetlb", _sub("hugepageLimits"), v1.hugetlb, v2.hugetlb),
    Group("network.classID", "net_cls", None, _network("classID"), v1.net_cls, None),
    Group("network.priorities", "net_prio", None, _network("priorities"), v1.net_prio, None),
    Group("rdma", "rdma", "rdma", _sub("rdma"), v1.rdma, v1.rdma),
)


def is_default(value: Any) -> bool:
    """True when a value asks for nothing: absent, zero, false, empty or -1 (unlimited)."""
    if value is None or value is False or value == 0 or value == -1 or value in ("", [], {}):
        return True
    if isinstance(value, dict):
        return all(is_default(v) for v in value.values())
    return False


def first_non_default(field: str, value: Any) -> str | None:
    """The JSON path of the first field in `value` that asks for something."""
    if is_default(value):
        return None
    if isinstance(value, dict):
        for k, v in value.items():
            found = first_non_default(f"{field}.{k}", v)
            if found:
                return found
    return field
