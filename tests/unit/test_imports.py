"""Per-verb import budget: every verb is a new process, so what it imports is what it costs.

Drives one real container through create, state, start, kill and delete, each verb run the
way the installed launcher runs it (`python -IS -X frozen_modules=on tools/entry.py`) plus
`-X importtime`, and fails when a verb imports a module it does not need. The listing comes
from the interpreter itself, so lazy imports inside functions count too. No timing asserted.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools"))
import mkbundle  # noqa: E402

VPY = str(REPO / ".venv/bin/python") if (REPO / ".venv/bin/python").exists() else sys.executable
LAUNCH = [VPY, "-IS", "-X", "frozen_modules=on", "-X", "importtime", str(REPO / "tools/entry.py")]

# Never on a hot verb: the schema validators (~80 ms), process spawning, the typing and
# logging machinery, argument parsers and anything network or async.
HEAVY = {"jsonschema", "fastjsonschema", "typing", "logging", "argparse", "asyncio", "email",
         "http", "urllib", "pydantic", "attr", "attrs", "pkg_resources", "importlib.metadata"}
# Each measured at 2-20 ms per process here (bench/IMPORTS.md): json and dataclasses pull in
# re (and inspect/ast); signal and socket build enums at import; ctypes and setproctitle
# (logging) were replaced by the C extension and comm; importlib brings warnings.
SLOW_STDLIB = {"json", "re", "dataclasses", "inspect", "ctypes", "setproctitle", "signal", "socket",
               "contextlib", "importlib", "enum", "decimal"}
HOT_FORBIDDEN = HEAVY | SLOW_STDLIB | {"subprocess", "multiprocessing", "concurrent", "threading"}
# Loaded for one call each, 0.2-0.4 ms apiece on create: zlib (the schema checksum; a stat of
# the schema decides now), resource (a shared library; prlimit goes through the C core) and
# encodings.ascii (reading kernel files as utf-8, a codec already loaded, is the same).
ONE_CALL = {"zlib", "resource", "encodings.ascii"}
# The short verbs call the posix module (ociruntime/posixlite.py): `import os` builds
# os.environ on _collections_abc's ABCs, ~1 ms per process.
SHORT_VERB_FORBIDDEN = HOT_FORBIDDEN | {"os", "_collections_abc", "posixpath"}
FORBIDDEN = {
    # state only reads a state file and checks a pid: no C extension, no cffi
    # the paused check reads the freezer files without building a cgroup manager
    "state": SHORT_VERB_FORBIDDEN | {"ociruntime.linux._native", "_cffi_backend", "ociruntime.spec",
                              "ociruntime.cgroups.manager"},
    # (the seccomp agent module only for a config with seccomp: this one has none)
    "start": SHORT_VERB_FORBIDDEN | {"ociruntime.spec", "ociruntime.cgroups.manager",
                              "ociruntime.security.seccomp_agent"},
    "kill": SHORT_VERB_FORBIDDEN | {"ociruntime.spec"},
    # containerd's shim calls these two (task ps; CRI UpdateContainerResources)
    "ps": SHORT_VERB_FORBIDDEN | {"ociruntime.spec"},
    "update": HOT_FORBIDDEN,
    "delete": SHORT_VERB_FORBIDDEN | {"ociruntime.spec"},
    # create validates with the compiled validator (jsonschema is only the reference); its
    # stage 1 and init (whose imports this listing includes) may use signal and socket.
    # (this config has no seccomp: neither libseccomp's wrapper nor the agent in the stages)
    "create": HEAVY | SLOW_STDLIB - {"signal", "socket", "enum"} | ONE_CALL | {"threading", "prctl", "ociruntime.linux.seccomp",
                                                                   "ociruntime.security.seccomp_agent"},
    # run is create + start + wait (+ delete), its stages included; exec forks two stages.
    # prctl (python-prctl, ~1.6 ms): the C core sets subreaper, dumpable and capabilities.
    "run": HEAVY | SLOW_STDLIB - {"socket"} | ONE_CALL | {"threading", "prctl", "ociruntime.linux.seccomp",
                                               "ociruntime.security.seccomp_agent"},
    # Real callers (containerd, podman, CRI-O) always send a filter: compiling it may not
    # bring json or typing back (they cost ~14 ms on every such create).
    "create-seccomp": HEAVY | SLOW_STDLIB - {"signal", "socket", "enum"} | ONE_CALL
    | {"threading", "prctl", "ociruntime.security.seccomp_agent"},
    "start-seccomp": SHORT_VERB_FORBIDDEN | {"ociruntime.spec", "ociruntime.cgroups.manager"},
    # A terminal (--console-socket): the pty master travels over _socket, not socket.py.
    "create-console": HEAVY | SLOW_STDLIB - {"signal", "enum"} | ONE_CALL
    | {"threading", "prctl", "ociruntime.linux.seccomp", "ociruntime.security.seccomp_agent"},
    # exec's stage 1 preloads no rootfs or hooks modules (no mounts, no hooks in exec)
    "exec": HEAVY | SLOW_STDLIB - {"socket"} | ONE_CALL | {"threading", "copy", "prctl", "ociruntime.lifecycle.run",
                                                 "ociruntime.lifecycle.create", "ociruntime.rootfs",
                                                 "ociruntime.hooks"},
}


def imported_modules(importtime_stderr: str) -> set[str]:
    names = set()
    for line in importtime_stderr.splitlines():
        if line.startswith("import time:") and "self [us]" not in line:
            names.add(line.rsplit("|", 1)[1].strip())
    return names


def run_verb(root: str, *args: str) -> set[str]:
    # stderr into a file: a created init inherits the runtime's stdio and would hold a pipe
    with tempfile.TemporaryFile("w+") as err:
        proc = subprocess.run([*LAUNCH, "--root", root, *args], stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=err)
        err.seek(0)
        text = err.read()
    assert proc.returncode == 0, f"{args}: exit {proc.returncode}: " + "\n".join(
        ln for ln in text.splitlines() if not ln.startswith("import time:"))
    return imported_modules(text)


class _ConsoleReceiver:
    """The caller's end of --console-socket: accepts one connection, takes the pty master."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)
        self.received = 0
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(self.path)
        self._listener.listen(1)
        self._thread = threading.Thread(target=self._receive)

    def _receive(self) -> None:
        conn, _ = self._listener.accept()
        with conn:
            _, self._fds, _, _ = socket.recv_fds(conn, 4096, 1)
        self.received = len(self._fds)

    def __enter__(self) -> _ConsoleReceiver:
        self._fds: list[int] = []
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        # The master stays open until create returned: the init's -X importtime lines go
        # to the pty, and a pty without a master answers writes with EIO.
        self._thread.join(timeout=10)
        self._listener.close()
        for fd in self._fds:
            os.close(fd)


@pytest.fixture(scope="module")
def modules_per_verb(tmp_path_factory: pytest.TempPathFactory) -> dict[str, set[str]]:
    base = tmp_path_factory.mktemp("imports")
    bundle, root = base / "bundle", str(base / "root")
    mkbundle.build_rootfs(bundle / "rootfs")
    config = mkbundle.builtin_config()
    config["process"]["args"] = ["sleep", "60"]
    (bundle / "config.json").write_text(json.dumps(config))
    cid = f"imports-{uuid.uuid4().hex[:10]}"
    seen: dict[str, set[str]] = {}
    try:
        seen["create"] = run_verb(root, "create", "--bundle", str(bundle), cid)
        seen["state"] = run_verb(root, "state", cid)
        seen["start"] = run_verb(root, "start", cid)
        seen["exec"] = run_verb(root, "exec", cid, "true")
        seen["ps"] = run_verb(root, "ps", "--format", "json", cid)
        seen["update"] = run_verb(root, "update", "--pids-limit", "100", cid)
        seen["kill"] = run_verb(root, "kill", cid, "KILL")
        seen["delete"] = run_verb(root, "delete", "--force", cid)
        config["process"]["args"] = ["true"]
        (bundle / "config.json").write_text(json.dumps(config))
        seen["run"] = run_verb(root, "run", "--bundle", str(bundle), cid + "-run")
        config["process"]["args"] = ["sleep", "60"]
        config["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
                                      "syscalls": [{"names": ["mount", "umount2"], "action": "SCMP_ACT_ERRNO"}]}
        (bundle / "config.json").write_text(json.dumps(config))
        seen["create-seccomp"] = run_verb(root, "create", "--bundle", str(bundle), cid + "-sc")
        seen["start-seccomp"] = run_verb(root, "start", cid + "-sc")
        run_verb(root, "delete", "--force", cid + "-sc")
        del config["linux"]["seccomp"]
        config["process"]["terminal"] = True
        (bundle / "config.json").write_text(json.dumps(config))
        with _ConsoleReceiver(base / "console.sock") as receiver:
            seen["create-console"] = run_verb(root, "create", "--bundle", str(bundle),
                                              "--console-socket", receiver.path, cid + "-tty")
        assert receiver.received == 1, "no pty master arrived"
        run_verb(root, "delete", "--force", cid + "-tty")
    finally:
        for left in (cid, cid + "-run", cid + "-sc", cid + "-tty"):
            if os.path.isdir(os.path.join(root, left)):
                subprocess.run([*LAUNCH[:4], LAUNCH[-1], "--root", root, "delete", "--force", left],
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    return seen


@pytest.mark.parametrize("verb", sorted(FORBIDDEN))
def test_verb_imports_only_what_it_needs(modules_per_verb: dict[str, set[str]], verb: str) -> None:
    imported = modules_per_verb[verb]
    assert "ociruntime.cli" in imported, "listing is empty: importtime output not parsed"
    bad = sorted(m for m in imported
                 if any(m == f or m.startswith(f + ".") for f in FORBIDDEN[verb]))
    assert not bad, f"{verb} imports {bad}"


def test_listing_sees_the_verb_lifecycle_module(modules_per_verb: dict[str, set[str]]) -> None:
    # guards the test itself: each verb's lifecycle module shows up in its own listing only.
    # (The cli verb module is loaded by importlib.import_module, which -X importtime does not
    # report; the modules it imports are reported.)
    for verb in FORBIDDEN:
        assert f"ociruntime.lifecycle.{verb.split('-')[0]}" in modules_per_verb[verb]
    assert "ociruntime.lifecycle.create" not in modules_per_verb["state"]
    # the filter was compiled in the seccomp scenario, and only there
    assert "ociruntime.security.seccomp" in modules_per_verb["create-seccomp"]
    assert "ociruntime.security.seccomp" not in modules_per_verb["create"]
