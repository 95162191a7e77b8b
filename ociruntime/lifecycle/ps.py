"""`ps`: the pids in the container's cgroup."""

from __future__ import annotations

from ociruntime.lifecycle.container import load


def container_pids(root: str, container_id: str) -> list[int]:
    container = load(root, container_id, shared_lock=True)
    cgroup = container.cgroup()
    if cgroup is None:
        return []
    try:
        return cgroup.pids()
    except FileNotFoundError:
        return []
