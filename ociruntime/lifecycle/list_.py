"""`list`: every container under the root with its derived status."""

from __future__ import annotations

from ociruntime.errors import OciError
from ociruntime.lifecycle.container import Container, owner_name
from ociruntime.state.store import ContainerDir, list_ids


def list_containers(root: str) -> list[dict]:
    result = []
    for container_id in list_ids(root):
        cdir = ContainerDir(root, container_id)
        try:
            container = Container(dir=cdir, state=cdir.read_state())
        except OciError:
            continue  # being created or deleted right now
        entry = container.public_state()
        entry["owner"] = owner_name(cdir.path)
        result.append(entry)
    return result
