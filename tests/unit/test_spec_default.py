"""default_config: the `spec` command's output, rootful and rootless."""

from __future__ import annotations

import json
import os

from ociruntime.spec.default import default_config
from ociruntime.spec.load import parse_config


def test_default_config_is_valid_and_runc_shaped() -> None:
    config = default_config()
    assert parse_config(json.dumps(config)) == config
    assert config["ociVersion"] == "1.3.0"
    assert config["root"] == {"path": "rootfs", "readonly": True}
    assert config["process"]["args"] == ["sh"] and config["process"]["terminal"] is True
    assert [m["destination"] for m in config["mounts"]] == [
        "/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/sys/fs/cgroup"]
    types = [ns["type"] for ns in config["linux"]["namespaces"]]
    assert types[:5] == ["pid", "network", "ipc", "uts", "mount"]
    assert "user" not in types
    assert config["process"]["capabilities"]["bounding"] == ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
    assert "/proc/kcore" in config["linux"]["maskedPaths"] and "/proc/sys" in config["linux"]["readonlyPaths"]


def test_cgroup_namespace_only_on_a_unified_host() -> None:
    types = [ns["type"] for ns in default_config()["linux"]["namespaces"]]
    assert ("cgroup" in types) == os.path.exists("/sys/fs/cgroup/cgroup.controllers")


def test_rootless_variant_follows_runc() -> None:
    config = default_config(rootless=True)
    assert parse_config(json.dumps(config)) == config
    linux = config["linux"]
    types = [ns["type"] for ns in linux["namespaces"]]
    assert "network" not in types and types[-1] == "user"
    assert linux["uidMappings"] == [{"containerID": 0, "hostID": os.geteuid(), "size": 1}]
    assert linux["gidMappings"] == [{"containerID": 0, "hostID": os.getegid(), "size": 1}]
    assert "resources" not in linux
    sys_mount = next(m for m in config["mounts"] if m["destination"] == "/sys")
    assert sys_mount == {"destination": "/sys", "type": "none", "source": "/sys",
                         "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]}
    for mount in config["mounts"]:
        assert not any(o.startswith(("uid=", "gid=")) for o in mount.get("options", []))


def test_each_call_returns_a_fresh_document() -> None:
    first = default_config()
    first["process"]["capabilities"]["bounding"].append("CAP_SYS_ADMIN")
    first["linux"]["maskedPaths"].clear()
    second = default_config()
    assert "CAP_SYS_ADMIN" not in second["process"]["capabilities"]["bounding"]
    assert second["linux"]["maskedPaths"]
