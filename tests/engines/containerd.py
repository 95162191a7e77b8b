"""A private containerd daemon for the engine tests, and `ctr` calls against it.

Everything containerd would put in shared places goes under one private base dir: root,
state, the grpc/ttrpc sockets, the `opt` plugin path, the runtime's --root and ctr's fifos.
The one exception is containerd's hard-coded shim socket dir /run/containerd/s (see
``HostDirs``). The daemon gets no fd above 2 and its own session (so a ^C to pytest does not
reach it), and is stopped by its pid.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from helpers import procs

CONTAINERD = "/usr/bin/containerd"
CTR = "/usr/bin/ctr"
CTR_TIMEOUT = 60  # a safety net against hangs, never an assertion about speed
START_TIMEOUT = 30
SHIM_SOCKET_DIR = Path("/run/containerd/s")  # hard-coded in containerd 1.6's runtime v2
CTR_FIFO_DIR = Path("/run/containerd/fifo")  # ctr's default; a ctr call without --fifo-dir
# Plugins that probe the host (modprobe, zpool, thin pools) and are of no use here.
_DISABLED_PLUGINS = [
    "io.containerd.snapshotter.v1.aufs",
    "io.containerd.snapshotter.v1.btrfs",
    "io.containerd.snapshotter.v1.zfs",
    "io.containerd.snapshotter.v1.devmapper",
]
CRI_PLUGIN = "io.containerd.grpc.v1.cri"


def require_containerd() -> None:
    missing = [p for p in (CONTAINERD, CTR, "/usr/bin/containerd-shim-runc-v2") if not os.access(p, os.X_OK)]
    if missing:
        raise RuntimeError(f"containerd is not installed ({', '.join(missing)} missing): "
                           "`make deps` installs the Debian package `containerd`")


def _toml_str(value: str | Path) -> str:
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass
class CriSettings:
    """What the CRI plugin needs: the runtime handler and the pause image."""

    handler: str
    sandbox_image: str


@dataclass
class Containerd:
    base: Path
    runtime: str  # BinaryName of every container: the runtime under test
    cri: CriSettings | None = None
    proc: subprocess.Popen[bytes] | None = None
    calls: list[str] = field(default_factory=list)

    @property
    def address(self) -> Path:
        return self.base / "containerd.sock"

    @property
    def root(self) -> Path:
        return self.base / "root"

    @property
    def state(self) -> Path:
        return self.base / "state"

    @property
    def runtime_root(self) -> Path:
        """What ctr passes as --runc-root (and CRI as options.Root); the shim adds /<namespace>."""
        return self.base / "runtime-root"

    @property
    def fifo_dir(self) -> Path:
        return self.base / "fifo"

    @property
    def log_path(self) -> Path:
        return self.base / "containerd.log"

    @property
    def config_path(self) -> Path:
        return self.base / "config.toml"

    # --- configuration ------------------------------------------------------------------

    def config_text(self) -> str:
        disabled = list(_DISABLED_PLUGINS) + ([] if self.cri else [CRI_PLUGIN])
        lines = [
            "version = 2",
            f"root = {_toml_str(self.root)}",
            f"state = {_toml_str(self.state)}",
            "disabled_plugins = [" + ", ".join(_toml_str(p) for p in disabled) + "]",
            "[grpc]",
            f"  address = {_toml_str(self.address)}",
            "[ttrpc]",
            f"  address = {_toml_str(str(self.address) + '.ttrpc')}",
            "[debug]",
            '  level = "debug"',
            '[plugins."io.containerd.internal.v1.opt"]',
            f"  path = {_toml_str(self.base / 'opt')}",
        ]
        if self.cri:
            lines += self._cri_config_lines(self.cri)
        return "\n".join(lines) + "\n"

    def _cri_config_lines(self, cri: CriSettings) -> list[str]:
        section = f'[plugins."{CRI_PLUGIN}"]'
        runtime = f'[plugins."{CRI_PLUGIN}".containerd.runtimes.{cri.handler}]'
        return [
            section,
            f"  sandbox_image = {_toml_str(cri.sandbox_image)}",
            # CRI gives the pause container oom_score_adj -998; lowering a score needs
            # CAP_SYS_RESOURCE, which root here lacks: clamp to containerd's own score.
            "  restrict_oom_score_adj = true",
            '  stream_server_address = "127.0.0.1"',
            '  stream_server_port = "0"',
            f'[plugins."{CRI_PLUGIN}".containerd]',
            '  snapshotter = "overlayfs"',
            '  default_runtime_name = "runc"',
            runtime,
            '  runtime_type = "io.containerd.runc.v2"',
            runtime[:-1] + ".options]",
            f"  BinaryName = {_toml_str(self.runtime)}",
            f"  Root = {_toml_str(self.runtime_root)}",
            # A second handler with NoPivotRoot: the shim then passes `create --no-pivot`.
            f'[plugins."{CRI_PLUGIN}".containerd.runtimes.{cri.handler}-nopivot]',
            '  runtime_type = "io.containerd.runc.v2"',
            f'[plugins."{CRI_PLUGIN}".containerd.runtimes.{cri.handler}-nopivot.options]',
            f"  BinaryName = {_toml_str(self.runtime)}",
            f"  Root = {_toml_str(self.runtime_root)}",
            "  NoPivotRoot = true",
            # The default runc handler, so nothing falls back to runc from $PATH with the
            # default /run/containerd/runc root: pointing it at the same binary and root.
            f'[plugins."{CRI_PLUGIN}".containerd.runtimes.runc]',
            '  runtime_type = "io.containerd.runc.v2"',
            f'[plugins."{CRI_PLUGIN}".containerd.runtimes.runc.options]',
            f"  BinaryName = {_toml_str(self.runtime)}",
            f"  Root = {_toml_str(self.runtime_root)}",
            f'[plugins."{CRI_PLUGIN}".cni]',
            f"  bin_dir = {_toml_str(self.base / 'cni' / 'bin')}",
            f"  conf_dir = {_toml_str(self.base / 'cni' / 'net.d')}",
        ]

    # --- life cycle ---------------------------------------------------------------------

    def start(self) -> None:
        require_containerd()
        for d in (self.root, self.state, self.runtime_root, self.fifo_dir, self.base / "opt"):
            d.mkdir(parents=True, exist_ok=True)
        if self.cri:
            (self.base / "cni" / "bin").mkdir(parents=True, exist_ok=True)
            (self.base / "cni" / "net.d").mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(self.config_text())
        env = {k: v for k, v in os.environ.items() if k != "NOTIFY_SOCKET"}
        with open(self.log_path, "ab") as log:
            # close_fds (the default) leaves only 0-2: an inherited fd would reach every shim.
            self.proc = subprocess.Popen([CONTAINERD, "--config", str(self.config_path)],
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         close_fds=True, start_new_session=True, env=env)
        self._wait_ready()

    def _wait_ready(self) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"containerd exited with {self.proc.returncode} at start-up:\n"
                                   f"{self.log_tail()}")
            if self.address.exists():
                probe = self.ctr("version", check=False, timeout=10)
                if probe.returncode == 0:
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(f"containerd not ready after {START_TIMEOUT}s:\n{self.log_tail()}")
            time.sleep(0.1)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"

    def shim_pids(self) -> list[int]:
        """Live shims serving this daemon (their argv carries ``-address <our socket>``)."""
        found = []
        for pid in procs.all_pids():
            argv = procs.cmdline(pid)
            if argv and "containerd-shim" in os.path.basename(argv[0]) and str(self.address) in argv \
                    and procs.alive(pid):
                found.append(pid)
        return found

    def stop(self) -> list[str]:
        """SIGTERM by pid, wait, then check the daemon and its shims are gone.

        Returns the problems found (the caller fails with them after cleaning up).
        """
        problems: list[str] = []
        if self.proc is None:
            return problems
        pid = self.proc.pid
        if self.proc.poll() is not None:
            problems.append(f"containerd {pid} had already exited with {self.proc.returncode}")
        else:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                problems.append(f"containerd {pid} ignored SIGTERM for 30s; killed")
                self.proc.kill()
                self.proc.wait(timeout=10)
        if procs.alive(pid):
            problems.append(f"containerd {pid} still alive after stop")
        shims = wait_gone(self.shim_pids)
        if shims:
            problems.append(f"shims still alive after containerd stopped: {shims}")
            procs.kill_and_reap(shims)
        return problems

    # --- ctr ----------------------------------------------------------------------------

    def ctr_argv(self, *args: str, namespace: str | None = None) -> list[str]:
        argv = [CTR, "--address", str(self.address)]
        if namespace:
            argv += ["--namespace", namespace]
        return argv + list(args)

    def ctr(self, *args: str, namespace: str | None = None, check: bool = True,
            timeout: float = CTR_TIMEOUT) -> subprocess.CompletedProcess[str]:
        """Run ctr with stdin from /dev/null. On a hang ctr gets SIGKILL (never TERM: ctr would
        forward TERM to the task) and the test fails."""
        argv = self.ctr_argv(*args, namespace=namespace)
        self.calls.append(" ".join(argv))
        try:
            done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                  timeout=timeout, start_new_session=True)
        except subprocess.TimeoutExpired as exc:
            raise AssertionError(f"ctr hung for {timeout}s: {' '.join(argv)}\n{self.log_tail()}") from exc
        if check and done.returncode != 0:
            raise AssertionError(describe(done))
        return done


def describe(done: subprocess.CompletedProcess[str]) -> str:
    argv = done.args if isinstance(done.args, str) else " ".join(done.args)
    return f"$ {argv}\nexit {done.returncode}\n--- stdout\n{done.stdout}--- stderr\n{done.stderr}"


def wait_gone(list_pids: Callable[[], list[int]], timeout: float = 15.0) -> list[int]:
    """Poll ``list_pids()`` until it is empty (shims exit asynchronously after their last
    task is deleted); returns what is still there at the timeout (a safety net)."""
    deadline = time.monotonic() + timeout
    while True:
        procs.reap_zombie_children()
        pids = list_pids()
        if not pids or time.monotonic() > deadline:
            return pids
        time.sleep(0.1)


@dataclass
class HostDirs:
    """Dirs outside our base that containerd creates anyway: removed again only if this run
    created them and they are empty."""

    paths: tuple[Path, ...] = (SHIM_SOCKET_DIR, CTR_FIFO_DIR, SHIM_SOCKET_DIR.parent)
    created: list[Path] = field(default_factory=list)

    def record(self) -> None:
        self.created = [p for p in self.paths if not p.exists()]

    def cleanup(self) -> list[str]:
        problems = []
        for path in self.created:  # children first: the order of ``paths``
            if not path.exists():
                continue
            try:
                path.rmdir()
            except OSError as exc:
                problems.append(f"{path} (created by this run) not empty: {exc.strerror}: "
                                f"{sorted(os.listdir(path))}")
        return problems


def remove_tree(path: Path) -> None:
    """Remove the daemon's base dir; overlay snapshots may hold read-only dirs."""
    shutil.rmtree(path, ignore_errors=True)
