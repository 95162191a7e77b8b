"""`pause` / `resume`: freeze and thaw every process of the container through its cgroup.

The paused status is not stored: `state` derives it from the freezer.
"""

from __future__ import annotations

from ociruntime.errors import ContainerStateError, UnsupportedError
from ociruntime.lifecycle.container import Container, load
from ociruntime.state import status as st


def pause(root: str, container_id: str) -> None:
    container = load(root, container_id)
    status = container.status()
    if status not in (st.RUNNING, st.CREATED):   # runc 1.1 pauses created containers too
        raise ContainerStateError("container not running")
    _cgroup(container).freeze()


def resume(root: str, container_id: str) -> None:
    container = load(root, container_id)
    if container.status() != st.PAUSED:
        raise ContainerStateError("container not paused")
    _cgroup(container).thaw()


def _cgroup(container: Container):  # -> CgroupManager
    cgroup = container.cgroup()
    if cgroup is None:
        raise UnsupportedError("container has no cgroup: cannot freeze it")
    return cgroup
