"""A created container as the verbs see it: its state dir, recorded state and live status."""

from __future__ import annotations

import posix

from ociruntime.state import status as st
from ociruntime.state.store import ContainerDir


class Container:
    __slots__ = ("dir", "state")

    def __init__(self, dir: ContainerDir, state: dict) -> None:  # noqa: A002 - the state dir
        self.dir = dir
        self.state = state

    @property
    def id(self) -> str:
        return self.dir.id

    @property
    def pid(self) -> int:
        return int(self.state.get("pid", 0))

    def status(self) -> str:
        return st.derive_status(self.state, self.dir.fifo_exists())

    def cgroup(self):  # -> CgroupManager | None
        data = self.state.get("cgroup")
        if not data:
            return None
        from ociruntime.cgroups import manager_from_state

        return manager_from_state(data)

    def public_state(self, status: str | None = None) -> dict:
        """The state JSON the `state` verb prints (runtime-spec state + runc's extras)."""
        status = status or self.status()
        s = self.state
        return {
            "ociVersion": s.get("ociVersion", ""),
            "id": self.id,
            "pid": self.pid if status != st.STOPPED else 0,
            "status": status,
            "bundle": s.get("bundle", ""),
            "rootfs": s.get("rootfs", ""),
            "created": s.get("created", ""),
            "annotations": s.get("annotations") or {},
            "owner": "",
        }

    def hook_state(self, status: str) -> dict:
        s = self.state
        return {"ociVersion": s.get("ociVersion", ""), "id": self.id, "status": status,
                "pid": self.pid, "bundle": s.get("bundle", ""),
                "annotations": s.get("annotations") or {}}


def load(root: str, container_id: str, *, shared_lock: bool = False) -> Container:
    """Open and lock the container's state dir and read its state (locked until exit)."""
    cdir = ContainerDir(root, container_id)
    cdir.lock(shared=shared_lock)
    return Container(dir=cdir, state=cdir.read_state())


def owner_name(path: str) -> str:
    import pwd

    try:
        uid = posix.stat(path).st_uid
        return pwd.getpwuid(uid).pw_name
    except (OSError, KeyError):
        return ""
