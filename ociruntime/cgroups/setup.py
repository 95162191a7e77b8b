"""Build a CgroupManager for a new container from config.json and the host's mounts."""

from __future__ import annotations

from ociruntime.cgroups import paths
from ociruntime.cgroups.layout import Layout, read_layout, read_unified_controllers
from ociruntime.cgroups.manager import CgroupManager


def manager_for(config: dict, container_id: str, *, systemd: bool = False,
                layout: Layout | None = None, own: dict[str, str] | None = None,
                unified_controllers: frozenset[str] | None = None) -> CgroupManager:
    """Map linux.cgroupsPath onto every mounted hierarchy.

    `layout`, `own` (the runtime's /proc/self/cgroup) and `unified_controllers` default
    to this host's; tests pass their own.
    """
    linux = config.get("linux") or {}
    cgroups_path = linux.get("cgroupsPath") or ""
    layout = layout if layout is not None else read_layout()
    systemd_info = None
    if systemd:
        unit = paths.systemd_unit(cgroups_path, container_id)
        inner = unit.path()
        systemd_info = {"slice": unit.slice, "prefix": unit.prefix, "name": unit.name,
                        "unit": unit.unit}
    else:
        inner = paths.inner_path(cgroups_path, container_id)
    if own is None and not inner.startswith("/"):
        own = paths.read_own_cgroups()
    dirs = paths.hierarchy_dirs(layout, inner, own)

    if unified_controllers is None:
        unified_controllers = (read_unified_controllers(layout.unified)
                               if layout.unified is not None else frozenset())
    v1_controllers = set(layout.v1_by_controller())
    if layout.mode == "v2":
        serves = sorted(unified_controllers)
    elif layout.mode == "hybrid":
        serves = sorted(unified_controllers - v1_controllers)
    else:
        serves = []

    hierarchies = {h.key(): {"dir": dirs[h.key()], "mount": h.mountpoint,
                             "controllers": list(h.controllers)} for h in layout.v1}
    if layout.unified is not None:
        hierarchies["unified"] = {"dir": dirs["unified"], "mount": layout.unified.mountpoint,
                                  "controllers": []}
    device_paths = [d.get("path") for d in linux.get("devices") or [] if isinstance(d, dict)]
    return CgroupManager(
        container_id=container_id, mode=layout.mode, hierarchies=hierarchies,
        unified_serves=serves, resources=dict(linux.get("resources") or {}),
        device_paths=[p for p in device_paths if p], systemd=systemd_info)
