"""Launcher entry: run with `python -IS`, so put the repo and the venv's site-packages on
sys.path by hand (skipping site.py saves start-up time on every verb)."""

import sys

_repo = __file__.rsplit("/", 2)[0]
sys.path[0:1] = [_repo, f"{sys.prefix}/lib/python{sys.version_info[0]}.{sys.version_info[1]}/site-packages"]

from ociruntime.cli import main  # noqa: E402

main()
