"""`delete`: remove a stopped (or, like runc, a created) container; --force kills it first.
poststop hooks run after everything is removed."""

from __future__ import annotations

import _signal as signal  # not signal: its enums cost ~4-5 ms per verb

from ociruntime.errors import ContainerNotFound, ContainerStateError, OciError
from ociruntime.lifecycle.container import Container, load
from ociruntime.state import status as st
from ociruntime.state.store import ContainerDir

_KILL_TIMEOUT = 10.0


def delete(root: str, container_id: str, *, force: bool = False) -> None:
    try:
        container = load(root, container_id)
    except ContainerNotFound:
        if force:
            return
        raise
    except OciError as err:
        if err.code != "state.corrupt":
            raise
        # An interrupted create left a directory without a readable state: remove it
        # (as runc does); only --force makes that a success.
        cdir = ContainerDir(root, container_id)
        if force:
            _destroy_unrecorded(cdir)
        cdir.remove()
        if force:
            return
        raise ContainerNotFound(container_id) from None
    status = container.status()
    if status in (st.RUNNING, st.PAUSED) and not force:
        raise ContainerStateError(f"cannot delete container {container_id} that is not stopped: {status}")
    if status != st.STOPPED:
        _kill_init(container, status)
    destroy(container)


def _kill_init(container: Container, status: str) -> None:
    from ociruntime.lifecycle.kill import send_to_init
    from ociruntime.process.exits import wait_for_exit

    cgroup = container.cgroup()
    try:
        send_to_init(container.pid, signal.SIGKILL)
    except (ContainerStateError, OciError):
        return  # already gone
    if status == st.PAUSED and cgroup is not None:
        cgroup.thaw()
    if not wait_for_exit(container.pid, _KILL_TIMEOUT):
        raise OciError("container init still running", code="container.state")


def destroy(container: Container) -> None:
    """Remove cgroup and state dir, then run poststop hooks (warnings only)."""
    try:
        config = container.dir.read_config()
    except (OSError, ValueError):
        config = {}
    cgroup = container.cgroup()
    if cgroup is not None:
        cgroup.destroy(force=True)
    _cleanup_host_mounts(container)
    container.dir.remove()
    poststop = (config.get("hooks") or {}).get("poststop") or []
    if poststop:
        from ociruntime.hooks import run_hooks_warn

        run_hooks_warn(poststop, container.hook_state("stopped"), "poststop")


def _cleanup_host_mounts(container: Container) -> None:
    """A container without a mount namespace has its rootfs mounted under the state dir
    in the runtime's namespace: detach it before the directory goes."""
    from ociruntime import posixlite

    if posixlite.lexists(container.dir.file("rootfs")):
        from ociruntime.rootfs import cleanup_host_mounts

        cleanup_host_mounts(container.dir.path)


def _destroy_unrecorded(cdir: ContainerDir) -> None:
    """state.json is missing or corrupt, so it cannot say what exists: rebuild the cgroup
    from the saved config.json and remove the directories ociruntime marked as its own,
    killing what still runs there (the init), then detach any host-side rootfs mounts."""
    from ociruntime import posixlite

    try:
        from ociruntime.cgroups import manager_for, marks

        cgroup = manager_for(cdir.read_config(), cdir.id)
        cgroup.created = [h["dir"] for h in cgroup.hierarchies.values() if marks.is_created(h["dir"])]
    except (OSError, ValueError, KeyError, TypeError, OciError):
        cgroup = None
    if cgroup is not None and cgroup.created:
        cgroup.destroy(force=True)
    if posixlite.lexists(cdir.file("rootfs")):
        from ociruntime.rootfs import cleanup_host_mounts

        cleanup_host_mounts(cdir.path)
