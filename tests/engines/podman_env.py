"""A fully private podman 4.3 for the engine tests: its own storage, run dir, tmp dir, config,
events file, network config dir and cgroup parent, driving a given OCI runtime.

Nothing here touches podman's defaults (/var/lib/containers/storage, /run/containers/storage,
/etc/containers/networks): CONTAINERS_CONF and CONTAINERS_STORAGE_CONF point at files in the
private base dir, and every podman call also gets the global path flags. Two host paths
podman 4.3 creates regardless (``/run/containers/networks``, ``/var/lib/containers/cache``)
are recorded before and removed after if the session created them.

The runtime is what ``--runtime`` names. Its basename decides podman's behaviour: names in
containers.conf ``runtime_supports_json`` (default: crun, runc, kata, runsc, youki, krun) get
``--log-format=json --log <file>`` from conmon; any other name gets no log flags and its stderr
becomes the error message.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from engines.oci_image import layer_tar

PODMAN = "podman"
CALL_TIMEOUT = 120  # a safety net against hangs, never an assertion about speed
CAP_SYS_RESOURCE = 24
# Host paths podman 4.3 creates whatever its flags say (network run dir, blob-info cache).
UNCONFIGURABLE_HOST_PATHS = (Path("/run/containers"), Path("/var/lib/containers"))
# The env of every podman call is ours minus these (a NOTIFY_SOCKET would reach the runtime).
DROPPED_ENV = ("NOTIFY_SOCKET", "CONTAINERS_CONF", "CONTAINERS_STORAGE_CONF", "CONTAINER_HOST")


@dataclass(frozen=True)
class Flavor:
    """One way of naming the runtime to podman."""

    name: str
    runtime: Path  # what --runtime gets
    json_logs: bool  # podman passes --log-format=json --log (basename in runtime_supports_json)
    default_root: Path  # the runtime's state root when no --root is passed (podman never passes it)


def lacks_cap_sys_resource() -> bool:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("CapEff:"):
            return not int(line.split()[1], 16) & (1 << CAP_SYS_RESOURCE)
    return True


# podman 4.3's default runtime_supports_json; setting the key replaces the list, so keep these.
DEFAULT_SUPPORTS_JSON = ("crun", "runc", "kata", "runsc", "youki", "krun")


def _containers_conf(base: Path, runtime_entry: tuple[str, Path] | None = None) -> str:
    lines = ["[containers]"]
    if lacks_cap_sys_resource():
        # podman sets NOFILE/NPROC to 1048576; raising a hard limit needs CAP_SYS_RESOURCE, so
        # without it every runtime (runc too) fails. Lowering is always allowed.
        lines.append('default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]')
    lines += [
        "",
        "[engine]",
        'cgroup_manager = "cgroupfs"',
        'events_logger = "file"',
        f'events_logfile_path = "{base}/events.log"',
        f'tmp_dir = "{base}/tmp"',
        f'static_dir = "{base}/storage/libpod"',
        f'volume_path = "{base}/storage/volumes"',
    ]
    if runtime_entry is not None:
        # A runtime by name: its own [engine.runtimes] entry, and JSON logs for that name.
        name, path = runtime_entry
        names = ", ".join(f'"{n}"' for n in (*DEFAULT_SUPPORTS_JSON, name))
        lines += [f'runtime = "{name}"', f"runtime_supports_json = [{names}]"]
    lines += ["", "[network]", f'network_config_dir = "{base}/networks"', ""]
    if runtime_entry is not None:
        lines += ["[engine.runtimes]", f'{runtime_entry[0]} = ["{runtime_entry[1]}"]', ""]
    return "\n".join(lines)


def _storage_conf(base: Path) -> str:
    return (f'[storage]\ndriver = "overlay"\ngraphroot = "{base}/storage"\n'
            f'runroot = "{base}/run"\n')


class Podman:
    """podman with private paths; ``call()`` runs one podman command with a given runtime."""

    def __init__(self, base: Path, tag: str) -> None:
        self.base = base
        self.tag = tag
        self.cgroup_parent = f"{tag}-podman"  # every container's cgroup and conmon's sit below it
        self.image = f"localhost/ocibox:{tag}"
        self.storage = base / "storage"
        self.run_dir = base / "run"
        self.tmp_dir = base / "tmp"
        self.networks = base / "networks"
        self.conf = base / "containers.conf"
        self.storage_conf = base / "storage.conf"
        self._host_paths_before = {p: p.exists() for p in UNCONFIGURABLE_HOST_PATHS}

    # --- set-up / teardown -------------------------------------------------------------

    def prepare(self) -> None:
        for path in (self.storage, self.run_dir, self.tmp_dir, self.networks):
            path.mkdir(parents=True, exist_ok=True)
        self.conf.write_text(_containers_conf(self.base))
        self.storage_conf.write_text(_storage_conf(self.base))

    def conf_with_runtime(self, name: str, path: Path) -> dict[str, str]:
        """The env for podman with a containers.conf that names the runtime ``name`` in
        [engine.runtimes] (pointing at ``path``) and in runtime_supports_json."""
        conf = self.base / f"containers-{name}.conf"
        conf.write_text(_containers_conf(self.base, (name, path)))
        return self.env() | {"CONTAINERS_CONF": str(conf)}

    def import_image(self, runtime: Path) -> None:
        """`podman import` a busybox-static rootfs tar built here (no registry)."""
        tar = self.base / "rootfs.tar"
        tar.write_bytes(layer_tar())
        done = self.call(runtime, "import", "--change", 'CMD ["/bin/sh"]',
                         "--change", "ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin", str(tar), self.image)
        if done.returncode != 0:
            raise RuntimeError(f"podman import failed: {describe(done)}")
        tar.unlink()

    def reset(self, runtime: Path) -> list[str]:
        """Remove every container and image and podman's storage; return what failed."""
        problems = []
        for args in (("rm", "--all", "--force", "--time", "0"), ("system", "reset", "--force")):
            done = self.call(runtime, *args)
            if done.returncode != 0:
                problems.append(describe(done))
        for path, existed in self._host_paths_before.items():
            if not existed and path.exists():
                shutil.rmtree(path, ignore_errors=True)
        return problems

    # --- calls ---------------------------------------------------------------------------

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in DROPPED_ENV}
        env["CONTAINERS_CONF"] = str(self.conf)
        env["CONTAINERS_STORAGE_CONF"] = str(self.storage_conf)
        return env

    def argv(self, runtime: Path, *args: str) -> list[str]:
        return [PODMAN, "--root", str(self.storage), "--runroot", str(self.run_dir),
                "--tmpdir", str(self.tmp_dir), "--storage-driver", "overlay",
                "--cgroup-manager", "cgroupfs", "--events-backend", "file",
                "--network-config-dir", str(self.networks), "--runtime", str(runtime), *args]

    def call(self, runtime: Path, *args: str, stdin: bytes | None = None,
             env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        argv = self.argv(runtime, *args)
        try:
            done = subprocess.run(argv, input=stdin or b"", capture_output=True, env=env or self.env(),
                                  timeout=CALL_TIMEOUT)
        except subprocess.TimeoutExpired as exc:
            raise AssertionError(f"podman hung for {CALL_TIMEOUT}s: {shlex.join(argv)}") from exc
        return subprocess.CompletedProcess(argv, done.returncode, done.stdout.decode(errors="replace"),
                                           done.stderr.decode(errors="replace"))

    def in_terminal(self, runtime: Path, *args: str) -> subprocess.CompletedProcess[str]:
        """Run podman with a pty as its stdio (util-linux ``script``), for ``-t``."""
        command = shlex.join(self.argv(runtime, *args))
        argv = ["script", "-qec", command, "/dev/null"]
        try:
            done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, env=self.env(),
                                  timeout=CALL_TIMEOUT)
        except subprocess.TimeoutExpired as exc:
            raise AssertionError(f"podman hung for {CALL_TIMEOUT}s: {command}") from exc
        return subprocess.CompletedProcess(argv, done.returncode, done.stdout.decode(errors="replace"),
                                           done.stderr.decode(errors="replace"))

    def container_ids(self, runtime: Path) -> list[str]:
        done = self.call(runtime, "ps", "--all", "--no-trunc", "--format", "{{.ID}}")
        if done.returncode != 0:
            raise AssertionError(describe(done))
        return done.stdout.split()


def describe(done: subprocess.CompletedProcess[str]) -> str:
    return (f"$ {shlex.join(done.args)}\nexit {done.returncode}\n--- stdout\n{done.stdout}"
            f"--- stderr\n{done.stderr}")
