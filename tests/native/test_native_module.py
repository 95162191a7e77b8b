"""The compiled module: built from this package version, refused when stale."""

from __future__ import annotations

import ast
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


def _imports_native(source: str) -> bool:
    """Whether the module imports ociruntime.linux._native in any form."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [f"{node.module or ''}.{alias.name}" for alias in node.names] + [node.module or ""]
        else:
            continue
        if any(name == "_native" or name.endswith("._native") or "._native." in name for name in names):
            return True
    return False


def test_only_the_linux_package_imports_the_native_module() -> None:
    root = pathlib.Path(ociruntime.__file__).parent
    offenders = [
        str(path.relative_to(root))
        for path in root.rglob("*.py")
        if path.parent.name != "linux" and _imports_native(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []
    assert _imports_native("from ociruntime.linux._native import lib")
    assert _imports_native("import ociruntime.linux._native")
    assert not _imports_native("import _thread\n_thread.get_native_id()")
