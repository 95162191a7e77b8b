"""Write the installed `ociruntime` launcher (run by `make install` with the venv's python).

The launcher is a Python script whose #! line names the venv interpreter with -IS, so the
kernel starts Python directly: no shell in between (~1-2 ms per verb), no pyenv shim
(~60 ms), no site scan. The repo and the venv's site-packages go on sys.path by hand: the
repo first, site-packages last, where site.py would put it (before the stdlib, every stdlib
import looked there first; the saving is within the noise of an alternating A/B here).
A path the #! line cannot carry (spaces, or too long for the kernel) gets the /bin/sh
form instead, which costs one extra exec.

    python tools/write_launcher.py <launcher path> <repo dir>
"""

from __future__ import annotations

import os
import sys

_SHEBANG_MAX = 255  # BINPRM_BUF_SIZE 256, including the "#!" and the newline
PACK_NAME = "build/ociruntime.pack"  # in the repo; tools/entry.py knows it too


def launcher_text(python: str, repo: str, site_packages: str) -> str:
    shebang = f"#!{python} -IS"
    if " " in python or len(shebang) >= _SHEBANG_MAX:
        return ("#!/bin/sh\n# ociruntime launcher (tools/write_launcher.py): the venv interpreter, no shim, no site.\n"
                f'exec "{python}" -IS "{repo}/tools/entry.py" "$@"\n')
    return (f"{shebang}\n"
            '"""ociruntime launcher, written by `make install` (tools/write_launcher.py)."""\n'
            "import sys\n\n"
            f"sys.path.insert(0, {repo!r})\n"
            f"sys.path.append({site_packages!r})  # after the stdlib, as site.py does\n"
            "from ociruntime.codepack import install  # noqa: E402\n\n"
            f"install({repo + '/' + PACK_NAME!r})\n"
            "from ociruntime.cli import main  # noqa: E402\n\n"
            "main()\n")


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    target, repo = argv[0], os.path.abspath(argv[1])
    site = os.path.join(sys.prefix, "lib", f"python{sys.version_info[0]}.{sys.version_info[1]}", "site-packages")
    sys.path.insert(0, repo)
    from ociruntime.codepack import write_pack

    modules = write_pack(repo, "ociruntime", os.path.join(repo, PACK_NAME))
    tmp = f"{target}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(launcher_text(sys.executable, repo, site))
    os.chmod(tmp, 0o755)
    os.replace(tmp, target)
    print(f"installed {target} ({modules} modules packed in {os.path.join(repo, PACK_NAME)})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
