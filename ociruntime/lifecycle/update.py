"""`update`: change the resource limits of a created, running or paused container."""

from __future__ import annotations

from ociruntime.errors import ContainerStateError, UnsupportedError
from ociruntime.lifecycle.container import load
from ociruntime.state import status as st


def update(root: str, container_id: str, resources: dict) -> None:
    """Apply `resources` (a LinuxResources object) and remember the merged result."""
    from ociruntime.cgroups.manager import merge_resources

    container = load(root, container_id)   # exclusive: two updates must not interleave
    if container.status() == st.STOPPED:
        raise ContainerStateError("container not running")
    cgroup = container.cgroup()
    if cgroup is None:
        raise UnsupportedError("container has no cgroup to update")
    cgroup.update(resources)
    container.state["cgroup"] = cgroup.to_state()
    container.dir.write_state(container.state)
    # Later verbs (exec, delete --force without state) read the saved config's resources.
    config = container.dir.read_config()
    linux = config.setdefault("linux", {})
    linux["resources"] = merge_resources(linux.get("resources") or {}, resources)
    container.dir.write_config(config)
