"""podman 4.3 drives the runtime under test: `podman --runtime <runtime>` (podman -> conmon ->
runtime for create/exec, podman -> runtime for start/kill/pause/resume/update/delete).

Every test runs twice, once per way of naming the runtime to podman (the ``flavor``):
``as-is`` (the runtime's own path: for ociruntime podman passes no log flags and reads the
runtime's stderr) and ``named-runc`` (a private symlink called ``runc``: podman then passes
``--log-format=json --log <file>`` and reads the error from that file). With
OCI_RUNTIME=/usr/sbin/runc the same tests run against runc.

Podman is fully private (see podman_env). Each test checks what podman prints and its exit
codes; the ``pm`` fixture then checks nothing is left: no container in podman's store, no
state in the runtime's default root, no mount under the private dir, no container cgroup
below the private cgroup parent, no conmon or other process.
"""

from __future__ import annotations

import itertools
import json
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from conformance.leftovers import SeccompCacheEntries
from engines import podman_traces as traces
from engines.podman_env import Flavor, Podman, describe
from helpers import procs
from helpers.runtime import is_runc, runtime_path
from helpers.sdnotify import SENDER_NAME, Receiver, build_sender
from ociruntime.cli import DEFAULT_ROOT

RUNC_DEFAULT_ROOT = Path("/run/runc")
# podman's default containers.conf runtime_supports_json (podman 4.3).
SUPPORTS_JSON = ("crun", "runc", "kata", "runsc", "youki", "krun")
# PID 1 ignores signals it has no handler for: trap them to get known exit codes and output.
TRAPPING_LOOP = ('trap "echo got-term; exit 7" TERM; trap "echo got-usr1" USR1; echo ready; '
                 'while true; do sleep 1; done')
NOT_FOUND_HINT = "OCI runtime attempted to invoke a command that was not found"
CONFIGURED_NAME = "ociruntime"  # the [engine.runtimes] name the README suggests
WAIT_TIMEOUT = 30.0  # safety net for polls, never an assertion about speed
_names = itertools.count()


# --- fixtures --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def podman_env(engines_lock: None) -> Iterator[Podman]:
    """One private podman (storage, config, image) for the module; reset and removed after."""
    runtime = Path(runtime_path())
    if not (runtime.is_file() and os.access(runtime, os.X_OK)):
        pytest.fail(f"runtime {runtime} not found: `make install` or set OCI_RUNTIME", pytrace=False)
    if shutil.which("podman") is None or shutil.which("conmon") is None:
        pytest.fail("podman/conmon not installed: `make deps`", pytrace=False)
    tag = "ocp" + secrets.token_hex(3)
    base = Path(tempfile.mkdtemp(prefix=f"{tag}-", dir="/tmp"))
    base.chmod(0o755)
    podman = Podman(base, tag)
    # podman never passes --root: the runtime's seccomp cache lands in the default root
    seccomp_cache = SeccompCacheEntries()
    podman.prepare()
    try:
        podman.import_image(runtime)
    except RuntimeError as exc:
        podman.reset(runtime)
        pytest.fail(str(exc), pytrace=False)
    yield podman
    problems = podman.reset(runtime)
    leftover = traces.settled_host(podman)
    if leftover:
        problems.append(leftover.report())
        traces.force_cleanup(podman, runtime, _default_root(runtime))
    problems += traces.unmount_under(base)
    problems += traces.remove_parent_cgroups(podman.cgroup_parent)
    seccomp_cache.forget_new()
    if os.environ.get("OCI_KEEP_TMP") != "1":
        shutil.rmtree(base, ignore_errors=True)
    if problems:
        pytest.fail("podman teardown: " + "; ".join(problems), pytrace=False)


@pytest.fixture(scope="module")
def notify_sender(podman_env: Podman) -> Path:
    return build_sender(podman_env.base)


def _default_root(runtime: Path) -> Path:
    return RUNC_DEFAULT_ROOT if is_runc(str(runtime)) else Path(DEFAULT_ROOT)


@pytest.fixture(scope="module", params=["as-is", "named-runc"])
def flavor(request: pytest.FixtureRequest, podman_env: Podman) -> Flavor:
    real = Path(runtime_path())
    path = real
    if request.param == "named-runc":
        path = podman_env.base / "bin" / "runc"
        path.parent.mkdir(exist_ok=True)
        if not path.is_symlink():
            path.symlink_to(real)
    return Flavor(request.param, path, path.name in SUPPORTS_JSON, _default_root(real))


@dataclass
class Engine:
    """podman with the flavor's runtime, plus the flags every container gets."""

    podman: Podman
    flavor: Flavor
    env: dict[str, str] | None = None  # podman's env for every call (default: podman.env())

    def __call__(self, *args: str, stdin: bytes | None = None,
                 env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return self.podman.call(self.flavor.runtime, *args, stdin=stdin, env=env or self.env)

    def tty(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.podman.in_terminal(self.flavor.runtime, *args)

    @property
    def container_flags(self) -> tuple[str, ...]:
        # No network (netavark would add iptables chains); a private cgroup parent; never pull.
        return ("--network", "none", "--cgroup-parent", f"/{self.podman.cgroup_parent}",
                "--pull", "never")

    def new_name(self, what: str) -> str:
        return f"{self.podman.tag}-{what}-{next(_names)}"

    def run(self, *args: str, stdin: bytes | None = None,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """``podman run <flags> [args before the image] IMAGE cmd...``; args holds "IMAGE"."""
        return self(*_with_image("run", self.container_flags, args, self.podman.image), stdin=stdin, env=env)

    def run_tty(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.tty(*_with_image("run", self.container_flags, args, self.podman.image))

    def start_detached(self, what: str, script: str = TRAPPING_LOOP) -> str:
        name = self.new_name(what)
        expect(self.run("-d", "--name", name, "IMAGE", "sh", "-c", script), 0)
        self.wait_for_log(name, "ready")
        return name

    def inspect(self, name: str, template: str) -> str:
        return expect(self("inspect", "--format", template, name), 0).stdout.strip()

    def logs(self, name: str) -> str:
        return expect(self("logs", name), 0).stdout

    def wait_for_log(self, name: str, text: str) -> str:
        deadline = time.monotonic() + WAIT_TIMEOUT
        while True:
            out = self.logs(name)
            if text in out:
                return out
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} never appeared in the logs of {name}: {out!r}")
            time.sleep(0.05)

    def wait_exit_code(self, name: str) -> int:
        return int(expect(self("wait", name), 0).stdout.strip())


def _with_image(verb: str, flags: tuple[str, ...], args: tuple[str, ...], image: str) -> list[str]:
    return [verb, *flags, *(image if a == "IMAGE" else a for a in args)]


@pytest.fixture
def pm(podman_env: Podman, flavor: Flavor) -> Iterator[Engine]:
    """The test's podman; after the test nothing of it may remain (see podman_traces)."""
    before = traces.baseline(flavor.default_root, podman_env.base)
    engine = Engine(podman_env, flavor)
    yield engine
    _check_left_nothing(engine, Path(runtime_path()), before)


def _check_left_nothing(engine: Engine, real_runtime: Path, before: traces.Baseline) -> None:
    podman, default_root = engine.podman, engine.flavor.default_root
    found = traces.settled(podman, real_runtime, default_root, before)
    if found:
        engine("rm", "--all", "--force", "--time", "0")
        traces.force_cleanup(podman, real_runtime, default_root)
        pytest.fail(found.report(), pytrace=False)


@pytest.fixture
def pm_configured(podman_env: Podman) -> Iterator[Engine]:
    """podman given the runtime by name (``--runtime ociruntime``), as a containers.conf with an
    [engine.runtimes] entry and runtime_supports_json set up for users would (README)."""
    real = Path(runtime_path())
    flavor = Flavor("configured", Path(CONFIGURED_NAME), True, _default_root(real))
    before = traces.baseline(flavor.default_root, podman_env.base)
    engine = Engine(podman_env, flavor, podman_env.conf_with_runtime(CONFIGURED_NAME, real))
    yield engine
    _check_left_nothing(engine, real, before)


def expect(done: subprocess.CompletedProcess[str], code: int) -> subprocess.CompletedProcess[str]:
    assert done.returncode == code, describe(done)
    return done


def terminal_lines(output: str) -> list[str]:
    return [line.replace("\0", "").strip() for line in output.splitlines()]


def cgroup_memory_limit(pid: int) -> int:
    """The memory limit of pid's cgroup, from the cgroup file itself (v1 or v2)."""
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            return int(Path(f"/sys/fs/cgroup/memory{path}/memory.limit_in_bytes").read_text())
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        if line.startswith("0::"):
            return int(Path(f"/sys/fs/cgroup{line[3:]}/memory.max").read_text())
    raise AssertionError(f"no memory cgroup for pid {pid}")


def freezer_state(pid: int) -> str:
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if "freezer" in controllers.split(","):
            return Path(f"/sys/fs/cgroup/freezer{path}/freezer.state").read_text().strip()
    raise AssertionError(f"no freezer cgroup for pid {pid}")


def pending_shared_signals(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("ShdPnd:"):
            return int(line.split()[1], 16)
    raise AssertionError(f"no ShdPnd in /proc/{pid}/status")


# --- run --------------------------------------------------------------------------------------

def test_run_rm_output_and_exit_code(pm: Engine) -> None:
    done = expect(pm.run("--rm", "IMAGE", "sh", "-c", "echo to-stdout; echo to-stderr >&2; exit 5"), 5)
    assert done.stdout == "to-stdout\n"
    assert "to-stderr\n" in done.stderr


def test_container_sees_only_stdio_fds(pm: Engine) -> None:
    # 3 is ls's own directory fd; conmon's sync/start pipes or the runtime's fds must not leak in.
    done = expect(pm.run("--rm", "IMAGE", "ls", "/proc/self/fd"), 0)
    assert done.stdout.split() == ["0", "1", "2", "3"]


def test_run_stdin(pm: Engine) -> None:
    done = expect(pm.run("--rm", "-i", "IMAGE", "sh", "-c", "cat; exit 3", stdin=b"line1\nline2\n"), 3)
    assert done.stdout == "line1\nline2\n"


def test_run_tty(pm: Engine) -> None:
    done = pm.run_tty("--rm", "-t", "IMAGE", "sh", "-c", "tty; test -t 0 && test -t 1 && echo both-tty; exit 4")
    assert done.returncode == 4, describe(done)
    lines = terminal_lines(done.stdout)
    assert "/dev/pts/0" in lines, lines
    assert "both-tty" in lines, lines


def test_run_failing_exec_is_127_with_the_runtime_message(pm: Engine) -> None:
    done = expect(pm.run("--rm", "IMAGE", "/nonexistent"), 127)
    # podman's classification (exit 127) comes from the runtime's text; the user sees it whole.
    assert f"Error: {pm.flavor.runtime}: " in done.stderr, done.stderr
    assert '"/nonexistent"' in done.stderr and "no such file or directory" in done.stderr, done.stderr
    assert NOT_FOUND_HINT in done.stderr, done.stderr


def test_failing_exec_error_channel(pm: Engine) -> None:
    """JSON-capable names report through --log (one JSON object); other names through stderr."""
    name = pm.new_name("nocmd")
    done = expect(pm.run("--name", name, "IMAGE", "/nonexistent"), 127)
    oci_log = pm.podman.run_dir / "overlay-containers" / pm.inspect(name, "{{.ID}}") / "userdata" / "oci-log"
    try:
        if pm.flavor.json_logs:
            entry = json.loads(oci_log.read_text())  # podman unmarshals the whole file as one object
            assert entry["level"] == "error", entry
            assert "/nonexistent" in entry["msg"] and "time" in entry, entry
            assert entry["msg"] in done.stderr, done.stderr
        else:
            assert not oci_log.exists(), "podman passed --log to a runtime not in runtime_supports_json"
            assert "level=" not in done.stderr and "{" not in done.stderr, done.stderr
    finally:
        expect(pm("rm", name), 0)


def test_runtime_by_name_from_containers_conf(pm_configured: Engine) -> None:
    """[engine.runtimes] resolves the name; runtime_supports_json gets it JSON logs."""
    pm = pm_configured
    info = expect(pm("info", "--format", "{{.Host.OCIRuntime.Name}} {{.Host.OCIRuntime.Path}}"), 0)
    assert info.stdout.split() == [CONFIGURED_NAME, runtime_path()], info.stdout
    done = expect(pm.run("--rm", "IMAGE", "sh", "-c", "echo by-name; exit 6"), 6)
    assert done.stdout == "by-name\n"
    name = pm.new_name("byname")
    done = expect(pm.run("--name", name, "IMAGE", "/nonexistent"), 127)
    oci_log = pm.podman.run_dir / "overlay-containers" / pm.inspect(name, "{{.ID}}") / "userdata" / "oci-log"
    try:
        entry = json.loads(oci_log.read_text())
        assert entry["level"] == "error" and "/nonexistent" in entry["msg"], entry
        assert f"Error: {CONFIGURED_NAME}: " in done.stderr and NOT_FOUND_HINT in done.stderr, done.stderr
    finally:
        expect(pm("rm", name), 0)


# --- detached, stop, kill, rm -f ------------------------------------------------------------------

def test_detach_and_stop_exit_code_from_term_trap(pm: Engine) -> None:
    name = pm.start_detached("stop")
    assert pm.inspect(name, "{{.State.Status}}") == "running"
    expect(pm("stop", "--time", "30", name), 0)
    assert pm.inspect(name, "{{.State.Status}} {{.State.ExitCode}}") == "exited 7"
    assert pm.logs(name) == "ready\ngot-term\n"
    expect(pm("rm", name), 0)


def test_kill_with_signal_then_default_kill(pm: Engine) -> None:
    name = pm.start_detached("kill")
    expect(pm("kill", "--signal", "USR1", name), 0)
    pm.wait_for_log(name, "got-usr1")
    assert pm.inspect(name, "{{.State.Status}}") == "running"
    expect(pm("kill", name), 0)  # SIGKILL
    assert pm.wait_exit_code(name) == 137
    expect(pm("rm", name), 0)


def test_kill_paused_container(pm: Engine) -> None:
    # SIGKILL cannot end a v1-frozen process: the runtime must thaw after it (runc#3217),
    # or podman times out waiting for conmon's exit file.
    name = pm.start_detached("killpaused")
    expect(pm("pause", name), 0)
    expect(pm("kill", name), 0)
    assert pm.wait_exit_code(name) == 137
    expect(pm("rm", name), 0)


def test_rm_force_running_container(pm: Engine) -> None:
    name = pm.start_detached("rmf")
    pid = int(pm.inspect(name, "{{.State.Pid}}"))
    expect(pm("rm", "--force", "--time", "0", name), 0)
    assert pm(*("container", "exists", name)).returncode == 1
    assert not procs.alive(pid)


# --- exec -----------------------------------------------------------------------------------------

def test_exec_exit_codes_and_stdin(pm: Engine) -> None:
    name = pm.start_detached("exec")
    done = expect(pm("exec", name, "sh", "-c", "echo in-exec; echo exec-err >&2; exit 3"), 3)
    assert done.stdout == "in-exec\n" and "exec-err" in done.stderr
    done = expect(pm("exec", "-i", name, "sh", "-c", "cat; exit 6", stdin=b"via-stdin\n"), 6)
    assert done.stdout == "via-stdin\n"
    done = expect(pm("exec", name, "ls", "/proc/self/fd"), 0)
    assert done.stdout.split() == ["0", "1", "2", "3"]
    expect(pm("rm", "--force", "--time", "0", name), 0)


def test_exec_tty(pm: Engine) -> None:
    name = pm.start_detached("exect")
    done = pm.tty("exec", "-t", name, "sh", "-c", "tty; test -t 0 && test -t 1 && echo both-tty; exit 5")
    assert done.returncode == 5, describe(done)
    lines = terminal_lines(done.stdout)
    assert "both-tty" in lines and any(line.startswith("/dev/pts/") for line in lines), lines
    expect(pm("rm", "--force", "--time", "0", name), 0)


def test_exec_failing_is_127_with_the_runtime_message(pm: Engine) -> None:
    name = pm.start_detached("execfail")
    done = expect(pm("exec", name, "/nonexistent"), 127)
    assert "/nonexistent" in done.stderr and "no such file or directory" in done.stderr, done.stderr
    # The container is unharmed.
    expect(pm("exec", name, "true"), 0)
    expect(pm("rm", "--force", "--time", "0", name), 0)


# --- pause, top, update ---------------------------------------------------------------------------

def test_pause_freezes_and_unpause_thaws(pm: Engine) -> None:
    name = pm.start_detached("pause")
    pid = int(pm.inspect(name, "{{.State.Pid}}"))
    expect(pm("pause", name), 0)
    assert pm.inspect(name, "{{.State.Status}}") == "paused"
    assert freezer_state(pid) == "FROZEN"
    # A frozen process cannot take a signal: USR1 stays pending until unpause.
    os.kill(pid, 10)
    assert pending_shared_signals(pid) & (1 << (10 - 1)), "USR1 was taken while paused"
    assert "got-usr1" not in pm.logs(name)
    expect(pm("unpause", name), 0)
    assert pm.inspect(name, "{{.State.Status}}") == "running"
    assert freezer_state(pid) == "THAWED"
    pm.wait_for_log(name, "got-usr1")
    expect(pm("rm", "--force", "--time", "0", name), 0)


def test_top_lists_container_processes(pm: Engine) -> None:
    name = pm.start_detached("top")
    done = expect(pm("top", name, "pid", "args"), 0)
    rows = [line.split(None, 1) for line in done.stdout.splitlines()[1:]]
    assert ["1", f"sh -c {TRAPPING_LOOP}"] in [[r[0], r[1].strip()] for r in rows if len(r) == 2], done.stdout
    expect(pm("rm", "--force", "--time", "0", name), 0)


def test_update_memory_reaches_the_cgroup(pm: Engine) -> None:
    name = pm.start_detached("update")
    pid = int(pm.inspect(name, "{{.State.Pid}}"))
    expect(pm("update", "--memory", "64m", name), 0)
    assert cgroup_memory_limit(pid) == 64 * 1024 * 1024
    expect(pm("rm", "--force", "--time", "0", name), 0)


# --- sd_notify ------------------------------------------------------------------------------------

def test_sdnotify_container_ready_reaches_the_host_socket(pm: Engine, notify_sender: Path) -> None:
    """podman 4.3 --sdnotify=container: podman puts a /run/notify bind mount and NOTIFY_SOCKET in
    the spec and conmon relays to podman's NOTIFY_SOCKET (the runtime gets no NOTIFY_SOCKET
    itself): the runtime must make that mount so the container's READY=1 reaches the host."""
    name = pm.new_name("sdnotify")
    with Receiver(pm.podman.base / f"{name}.sock") as receiver:
        env = pm.podman.env() | {"NOTIFY_SOCKET": str(receiver.path)}
        script = f'{SENDER_NAME} "$NOTIFY_SOCKET" READY=1 && echo ready; sleep 100'
        expect(pm.run("-d", "--name", name, "--sdnotify=container",
                      "-v", f"{notify_sender}:/bin/{SENDER_NAME}:ro", "IMAGE", "sh", "-c", script, env=env), 0)
        messages = [m.strip() for m in receiver.wait_for(b"READY=")]
        assert b"READY=1" in messages, messages
        assert pm.wait_for_log(name, "ready") == "ready\n"
    expect(pm("rm", "--force", "--time", "0", name), 0)
