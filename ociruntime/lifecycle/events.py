"""`events`: one stats event, or a stream of stats and OOM events while the container lives."""

from __future__ import annotations

from typing import Iterator

from ociruntime.errors import ContainerStateError, UnsupportedError
from ociruntime.lifecycle.container import Container, load
from ociruntime.state import status as st


def _open(root: str, container_id: str) -> tuple[Container, object]:
    container = load(root, container_id, shared_lock=True)
    if container.status() == st.STOPPED:
        raise ContainerStateError(f"container with id {container_id} is not running")
    cgroup = container.cgroup()
    if cgroup is None:
        raise UnsupportedError("container has no cgroup: no statistics")
    return container, cgroup


def stats_once(root: str, container_id: str) -> dict:
    from ociruntime.cgroups.cli_support import stats_event

    _, cgroup = _open(root, container_id)
    return stats_event(container_id, cgroup)  # type: ignore[arg-type]


def stream(root: str, container_id: str, interval: float) -> Iterator[dict]:
    """Stats every interval and OOM events until the init is gone."""
    from ociruntime.cgroups import cli_support

    container, cgroup = _open(root, container_id)
    # Hold no lock while streaming: `delete` must still be able to take the container away.
    container.dir.unlock()
    state = container.state
    yield from cli_support.events(cgroup, container_id, interval,  # type: ignore[arg-type]
                                  lambda: st.init_alive(state))
