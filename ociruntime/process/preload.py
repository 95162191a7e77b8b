"""Import, before pivot_root / setns(mnt), every module the container processes may import
lazily afterwards: once inside the container's mount namespace the runtime's files are gone."""

from __future__ import annotations

import importlib
import os

_PACKAGES = ("linux", "security", "rootfs", "hooks", "process")
_STDLIB = ("select", "socket", "resource", "re", "stat", "fcntl", "struct", "json",
           "signal", "errno", "pwd", "grp")


def preload_for_container() -> None:
    base = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for name in _STDLIB:
        importlib.import_module(name)
    importlib.import_module("ociruntime.log")
    for package in _PACKAGES:
        for entry in sorted(os.listdir(os.path.join(base, package))):
            if entry.endswith(".py") and not entry.startswith("_"):
                importlib.import_module(f"ociruntime.{package}.{entry[:-3]}")
            elif entry == "__init__.py":
                importlib.import_module(f"ociruntime.{package}")
