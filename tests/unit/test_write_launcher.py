"""tools/write_launcher.py: the launcher execs the venv interpreter straight from its #!
line (no shell), and falls back to /bin/sh when the path cannot sit in a #! line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools"))

from write_launcher import launcher_text  # noqa: E402


def test_written_launcher_runs_the_cli(tmp_path: Path) -> None:
    target = tmp_path / "ociruntime"
    subprocess.run([sys.executable, str(REPO / "tools/write_launcher.py"), str(target), str(REPO)],
                   check=True, capture_output=True)
    text = target.read_text()
    assert text.startswith(f"#!{sys.executable} -IS\n")
    out = subprocess.run([str(target), "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("ociruntime version ") and "spec: " in out.stdout


def test_the_repo_comes_first_and_site_packages_after_the_stdlib(tmp_path: Path) -> None:
    """site.py's order: a stdlib import never lists site-packages first."""
    text = launcher_text(sys.executable, "/repo", "/site")
    namespace = {"sys": type(sys)("sys")}
    namespace["sys"].path = ["/usr/lib/python311.zip", "/usr/lib/python3.11", "/usr/lib/python3.11/lib-dynload"]
    setup = "\n".join(line for line in text.splitlines() if line.startswith("sys.path"))
    exec(setup, namespace)  # noqa: S102
    assert namespace["sys"].path == ["/repo", "/usr/lib/python311.zip", "/usr/lib/python3.11",
                                     "/usr/lib/python3.11/lib-dynload", "/site"]


def test_paths_a_shebang_cannot_carry_get_the_shell_form() -> None:
    spaced = launcher_text("/opt/my venv/bin/python", "/repo", "/site")
    assert spaced.startswith("#!/bin/sh\n") and 'exec "/opt/my venv/bin/python" -IS "/repo/tools/entry.py" "$@"' in spaced
    long_path = "/" + "x" * 300 + "/python"
    assert launcher_text(long_path, "/repo", "/site").startswith("#!/bin/sh\n")
