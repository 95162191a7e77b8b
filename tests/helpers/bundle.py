"""Per-test OCI bundles: a hard-linked copy of a session template rootfs plus an editable config."""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import shutil
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def _load_mkbundle() -> Any:
    spec = importlib.util.spec_from_file_location("mkbundle", REPO / "tools" / "mkbundle.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


mkbundle = _load_mkbundle()


def base_config() -> dict[str, Any]:
    """The config every test starts from: `runc spec` with terminal off, a writable root and
    a process that exits at once. Tests edit ``bundle.config`` from there.

    The built-in config is used even when ociruntime has its own default, so a test means the
    same thing against every runtime.
    """
    config = mkbundle.builtin_config()
    config["root"]["readonly"] = False
    config["process"]["args"] = ["true"]
    return config


def build_template(path: Path) -> Path:
    """The session's rootfs template (built once; per-test copies hard-link its files)."""
    mkbundle.build_rootfs(path)
    return path


def clone_rootfs(template: Path, dest: Path) -> None:
    # Hard links: cheap per test; tests never modify files of the template in place.
    shutil.copytree(template, dest, symlinks=True, copy_function=os.link)
    for d in ("tmp",):
        (dest / d).chmod(0o1777)


class Bundle:
    """A bundle directory with ``config`` (a dict) saved to config.json by ``save()``.

    The runtime helper saves before ``create``/``run``, so tests just edit ``config``. After
    ``write_raw()`` (invalid JSON on purpose) saving is off.
    """

    def __init__(self, path: Path, template: Path) -> None:
        self.path = path
        self.rootfs = path / "rootfs"
        path.mkdir(parents=True)
        clone_rootfs(template, self.rootfs)
        self.config: dict[str, Any] = base_config()
        self._raw = False
        self.save()

    def __fspath__(self) -> str:
        return str(self.path)

    def __str__(self) -> str:
        return str(self.path)

    def save(self) -> None:
        if self._raw:
            return
        tmp = self.path / ".config.json.tmp"
        tmp.write_text(json.dumps(self.config, indent=2))
        os.replace(tmp, self.path / "config.json")

    def write_raw(self, text: str) -> None:
        """Write config.json verbatim (for invalid-input tests) and stop auto-saving."""
        (self.path / "config.json").write_text(text)
        self._raw = True

    # Small editing helpers for what most tests change.
    @property
    def process(self) -> dict[str, Any]:
        return self.config["process"]

    @property
    def linux(self) -> dict[str, Any]:
        return self.config.setdefault("linux", {})

    def args(self, *argv: str) -> Bundle:
        self.process["args"] = list(argv)
        return self

    def sh(self, script: str) -> Bundle:
        """Run ``sh -c script`` in the container."""
        return self.args("sh", "-c", script)

    def namespaces(self) -> list[dict[str, Any]]:
        return self.linux.setdefault("namespaces", [])

    def has_namespace(self, ns_type: str) -> bool:
        return any(ns["type"] == ns_type for ns in self.namespaces())

    def set_namespace(self, ns_type: str, path: str | None = None) -> Bundle:
        self.drop_namespace(ns_type)
        entry: dict[str, Any] = {"type": ns_type}
        if path is not None:
            entry["path"] = path
        self.namespaces().append(entry)
        return self

    def drop_namespace(self, ns_type: str) -> Bundle:
        self.linux["namespaces"] = [ns for ns in self.namespaces() if ns["type"] != ns_type]
        if ns_type == "uts":
            self.config.pop("hostname", None)
            self.config.pop("domainname", None)
        return self

    def add_mount(self, destination: str, type_: str | None, source: str,
                  options: list[str] | None = None) -> Bundle:
        mount: dict[str, Any] = {"destination": destination, "source": source}
        if type_ is not None:
            mount["type"] = type_
        if options is not None:
            mount["options"] = options
        self.config.setdefault("mounts", []).append(mount)
        return self

    def drop_mount(self, destination: str) -> Bundle:
        self.config["mounts"] = [m for m in self.config.get("mounts", []) if m["destination"] != destination]
        return self

    def add_hook(self, kind: str, path: str, args: list[str] | None = None, env: list[str] | None = None,
                 timeout: int | None = None) -> Bundle:
        hook: dict[str, Any] = {"path": path}
        if args is not None:
            hook["args"] = args
        if env is not None:
            hook["env"] = env
        if timeout is not None:
            hook["timeout"] = timeout
        self.config.setdefault("hooks", {}).setdefault(kind, []).append(hook)
        return self

    def copy_config(self) -> dict[str, Any]:
        return copy.deepcopy(self.config)
