"""Launcher entry: run with `python -IS`, so put the repo and the venv's site-packages on
sys.path by hand (skipping site.py saves start-up time on every verb; without site the
venv is not activated, so its site-packages is found from the interpreter's own path)."""

import sys

_repo = __file__.rsplit("/", 2)[0]
_venv = sys.executable.rsplit("/", 2)[0]
sys.path.insert(0, _repo)
sys.path.append(f"{_venv}/lib/python{sys.version_info[0]}.{sys.version_info[1]}/site-packages")  # as site.py would

from ociruntime.codepack import install  # noqa: E402

install(f"{_repo}/build/ociruntime.pack")  # written by tools/write_launcher.py
from ociruntime.cli import main  # noqa: E402

main()
