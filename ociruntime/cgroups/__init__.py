"""Control groups for containers: v1, v2 and hybrid hosts.

This module stays cheap to import (`state` and `delete` import it): the real work lives
in submodules loaded on first use.

    manager_for(config, container_id, systemd=False) -> CgroupManager   # at create
    manager_from_state(data) -> CgroupManager                            # later verbs
    is_paused(data) -> bool           # `state`, `start`: no manager imported for that
"""

from __future__ import annotations

TYPE_CHECKING = False   # typing costs ~10 ms to import; this module is on every verb's path
if TYPE_CHECKING:
    from typing import Any

    from ociruntime.cgroups.manager import CgroupManager

__all__ = ["CgroupManager", "is_paused", "manager_for", "manager_from_state"]

STATE_VERSION = 1  # of CgroupManager.to_state()


def manager_for(config: dict, container_id: str, *, systemd: bool = False) -> CgroupManager:
    """The manager for a new container, from the whole config.json object."""
    from ociruntime.cgroups.setup import manager_for as build

    return build(config, container_id, systemd=systemd)


def manager_from_state(data: dict) -> CgroupManager:
    """The inverse of CgroupManager.to_state(); reads no files."""
    from ociruntime.cgroups.manager import CgroupManager

    return CgroupManager.from_state(data)


def _check_state_version(data: dict) -> None:
    if data.get("version") != STATE_VERSION:
        from ociruntime.errors import KernelError

        raise KernelError(f"unknown cgroup state version {data.get('version')!r}")


def is_paused(data: dict) -> bool:
    """Whether the container of this saved state (CgroupManager.to_state()) was paused by
    us; reads only its freezer files."""
    _check_state_version(data)
    from ociruntime.cgroups.freezer import is_frozen

    return is_frozen(data["hierarchies"])


def __getattr__(name: str) -> Any:
    if name == "CgroupManager":
        from ociruntime.cgroups.manager import CgroupManager

        return CgroupManager
    raise AttributeError(name)
