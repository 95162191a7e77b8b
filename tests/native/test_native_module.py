"""The compiled module: built from this package version, refused when stale."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import ociruntime
from ociruntime.linux import _lib


def test_module_reports_the_package_version() -> None:
    assert _lib.BUILT_VERSION == ociruntime.__version__


def test_a_stale_build_is_refused_with_a_rebuild_hint() -> None:
    code = (
        "import ociruntime; ociruntime.__version__ = '0.0.0-other'\n"
        "import ociruntime.linux.mounts\n"
    )
    repo = pathlib.Path(ociruntime.__file__).resolve().parent.parent
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=repo)
    assert proc.returncode != 0
    last_line = proc.stderr.strip().splitlines()[-1]
    assert last_line == (
        f"ImportError: ociruntime.linux._native was built for ociruntime {ociruntime.__version__} "
        "but the package is 0.0.0-other; rebuild it with `make build`"
    )


def test_only_the_linux_package_imports_the_native_module() -> None:
    root = pathlib.Path(ociruntime.__file__).parent
    offenders = [
        str(path.relative_to(root))
        for path in root.rglob("*.py")
        if path.parent.name != "linux" and "_native" in path.read_text(encoding="utf-8")
    ]
    assert offenders == []
