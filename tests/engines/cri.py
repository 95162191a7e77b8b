"""crictl (cri-tools, built by `make crictl` into build/bin) against the private CRI daemon.

Every call gets a private config file and explicit ``--runtime-endpoint``/``--image-endpoint``
(unix://<our socket>), so nothing reads /etc/crictl.yaml or reaches the default socket.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engines.containerd import Containerd, describe

REPO = Path(__file__).resolve().parents[2]
CRICTL = Path(os.environ.get("CRICTL", REPO / "build" / "bin" / "crictl"))
CRICTL_TIMEOUT = 60  # safety net against hangs, never an assertion about speed
NETWORK_NODE = 2  # runtime.v1.NamespaceMode.NODE: the pod shares the host's network


def require_crictl() -> None:
    if not os.access(CRICTL, os.X_OK):
        raise RuntimeError(f"crictl not found at {CRICTL}: `make crictl` builds it (cri-tools v1.37 "
                           "from the Go module proxy) or set CRICTL=/path/to/crictl")


@dataclass
class Crictl:
    daemon: Containerd
    workdir: Path
    calls: list[str] = field(default_factory=list)

    @property
    def config_path(self) -> Path:
        return self.workdir / "crictl.yaml"

    def write_config(self) -> None:
        endpoint = f"unix://{self.daemon.address}"
        self.config_path.write_text(f"runtime-endpoint: {endpoint}\nimage-endpoint: {endpoint}\n"
                                    "timeout: 30\ndebug: false\npull-image-on-create: false\n")

    def argv(self, *args: str) -> list[str]:
        endpoint = f"unix://{self.daemon.address}"
        return [str(CRICTL), "--config", str(self.config_path), "--runtime-endpoint", endpoint,
                "--image-endpoint", endpoint, *args]

    def __call__(self, *args: str, check: bool = True,
                 timeout: float = CRICTL_TIMEOUT) -> subprocess.CompletedProcess[str]:
        argv = self.argv(*args)
        self.calls.append(" ".join(argv))
        try:
            done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                  timeout=timeout, start_new_session=True)
        except subprocess.TimeoutExpired as exc:
            raise AssertionError(f"crictl hung for {timeout}s: {' '.join(argv)}\n"
                                 f"{self.daemon.log_tail()}") from exc
        if check and done.returncode != 0:
            raise AssertionError(describe(done) + "\n--- containerd log\n" + self.daemon.log_tail())
        return done

    def write_json(self, name: str, content: dict[str, Any]) -> str:
        path = self.workdir / name
        path.write_text(json.dumps(content, indent=1))
        return str(path)

    def inspect(self, kind: str, obj_id: str) -> dict[str, Any]:
        """`crictl inspect`/`inspectp` as JSON."""
        return json.loads(self(kind, "--output", "json", obj_id).stdout)

    def remove_all(self) -> None:
        """Cleanup after a failed test: every pod (and its containers) of our daemon."""
        self("rmp", "--force", "--all", check=False)


def pod_config(name: str, uid: str, namespace: str, log_dir: Path, cgroup_parent: str) -> dict[str, Any]:
    """A host-network pod (no CNI needed) with its cgroups below ``cgroup_parent``."""
    return {
        "metadata": {"name": name, "namespace": namespace, "uid": uid, "attempt": 0},
        "log_directory": str(log_dir),
        "linux": {
            "cgroup_parent": cgroup_parent,
            "security_context": {"namespace_options": {"network": NETWORK_NODE}},
        },
    }


def container_config(name: str, image: str, command: list[str]) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "image": {"image": image},
        "command": command,
        "log_path": f"{name}.log",
        "linux": {},
    }
