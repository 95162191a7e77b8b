"""`state`: the runtime-spec state of one container."""

from __future__ import annotations

from ociruntime.lifecycle.container import load


def state(root: str, container_id: str) -> dict:
    container = load(root, container_id, shared_lock=True)
    return container.public_state()
