"""What the engine fixtures share with the tests: the session's names, image and handler."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

K8S_NAMESPACE = "k8s.io"  # the namespace CRI keeps its images and containers in
CRI_HANDLER = "ociruntime"  # the CRI runtime handler that runs the runtime under test


@dataclass
class EngineSession:
    tag: str  # unique per session: ctr namespace, cgroup parents, temp dir and image tag
    base: Path
    runtime: str
    image: str  # reference of the locally built busybox image
    archive: Path


def cri_cgroup_parent(engine_session: EngineSession) -> str:
    """Pods' cgroup_parent (without the leading slash): their cgroups go below it."""
    return f"{engine_session.tag}-pods"
