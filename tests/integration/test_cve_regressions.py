"""runc's CVE classes, each attempted against the runtime; every test names what protects.

- CVE-2019-5736: a container process reads /proc/<runtime stage>/exe to reach (and later
  overwrite) the runtime's interpreter while a runtime stage is inside the container.
- CVE-2024-21626: a host directory fd (leaked or preserved) used as process.cwd.
- CVE-2025-31133 / 52565 / 52881: /dev/null, /dev/console and /proc/sys entries swapped
  (by a createContainer hook, as a racing shared mount would) between mounting and use.
- a device path through a symlink pointing out of the rootfs.
"""

from __future__ import annotations

import errno
import hashlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from helpers import procs
from helpers.containers import SLEEPER, create, inside

PAUSE_TIMEOUT = 30  # safety net for reaching a fault point, not an assertion
BREAKOUT = "current working directory is outside of container mount namespace root"

# Run inside the container against one pid: print what a CVE-2019-5736 attacker gets.
# Reading is enough to prove the point: with the link, the attacker holds the host
# interpreter and writes to it once it is no longer executing.
EXE_ATTACK = (
    "p={pid}; echo comm=$(cat /proc/$p/comm); "
    "ls -l /proc/$p/exe 2>&1; head -c 4 /proc/$p/exe >/dev/null 2>&1 && echo read-opened; "
    "(exec 3>>/proc/$p/exe) 2>&1 && echo write-opened; exit 0"
)


def _status_field(pid: int, name: str) -> str:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"{name} not in /proc/{pid}/status")


def _paused_with_final_caps(pid: int, cap_prm: str) -> bool:
    """The stage applied the container's capabilities, so a container process has as many
    and only dumpability is left to stop it (the fault point follows right after)."""
    try:
        return _status_field(pid, "CapPrm") == cap_prm
    except FileNotFoundError:
        return False


def _container_cap_prm(runtime, bundle, make_id) -> str:
    """CapPrm of a container process under this bundle's capabilities."""
    saved = list(bundle.process["args"])
    out = inside(runtime, bundle, make_id(), "grep CapPrm /proc/self/status")
    bundle.process["args"] = saved
    return out.split(":", 1)[1].strip()


def _assert_exe_denied(output: str) -> None:
    assert output.count("Permission denied") >= 2, output
    assert "python" not in output and "read-opened" not in output and "write-opened" not in output, output


def _background(runtime, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    argv = [runtime.path, "--root", str(runtime.root), *args]
    return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=runtime.env(env))


# --- CVE-2019-5736 ---------------------------------------------------------------------------

def _attack_with_container_credentials(pid: int, cap_prm: str) -> list[str]:
    """What a container process gets from /proc/<pid>/exe: a child of ours with the
    container's uid (0) and exactly its capabilities (no CAP_SYS_PTRACE) tries. The
    kernel's check (ptrace_may_access) looks at credentials and dumpability, not at mount or
    PID namespaces."""
    import prctl

    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:
        try:
            os.close(read_end)
            keep = [n for n in range(64) if int(cap_prm, 16) >> n & 1]
            prctl.cap_inheritable.limit()
            prctl.cap_effective.limit(*keep)
            prctl.cap_permitted.limit(*keep)
            results = []
            for what, attempt in (("readlink", lambda: os.readlink(f"/proc/{pid}/exe")),
                                  ("read", lambda: os.close(os.open(f"/proc/{pid}/exe", os.O_RDONLY))),
                                  ("write", lambda: os.close(os.open(f"/proc/{pid}/exe", os.O_WRONLY | os.O_APPEND)))):
                try:
                    attempt()
                    results.append(f"{what}:ok")
                except OSError as err:
                    results.append(f"{what}:{errno.errorcode[err.errno]}")
            os.write(write_end, " ".join(results).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as fh:
        out = fh.read()
    os.waitpid(child, 0)
    return out.split()


def _init_of(container_id: str) -> int | None:
    """The pid of the container's init while it is still the runtime (comm oci:[2:INIT],
    the runtime's argv, which names the container, in its cmdline)."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            comm = Path(f"/proc/{entry}/comm").read_text().strip()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if comm == "oci:[2:INIT]" and container_id.encode() in cmdline:
            return int(entry)
    return None


@pytest.mark.ours_only  # uses ociruntime's fault points
def test_cve_2019_5736_init_stage_exe_is_out_of_the_containers_reach(runtime, bundle, container_id, make_id):
    """Protected by prctl(PR_SET_DUMPABLE, 0) in stage 1 before it joins anything (child.py),
    inherited by the init: without it a container process, same uid and same capabilities,
    could open /proc/1/exe (the host interpreter) while the init is still the runtime. The
    init has the container's capabilities from just before "ready" (then it execs the
    trampoline, or waits for `start`), so the attack is made there, create paused."""
    cap_prm = _container_cap_prm(runtime, bundle, make_id)
    bundle.sh(SLEEPER)
    bundle.save()
    creator = _background(runtime, "create", "--bundle", str(bundle.path), container_id,
                          env={"OCIRUNTIME_FAULT": "before_ready:pause"})
    init_pid = None
    try:
        def paused_init() -> bool:
            nonlocal init_pid
            init_pid = _init_of(container_id)
            return init_pid is not None and _paused_with_final_caps(init_pid, cap_prm)

        procs.wait_until(paused_init, "the init at before_ready", timeout=PAUSE_TIMEOUT)
        assert init_pid is not None
        assert "python" in os.readlink(f"/proc/{init_pid}/exe")  # still the runtime
        assert _attack_with_container_credentials(init_pid, cap_prm) == ["readlink:EACCES", "read:EACCES",
                                                                         "write:EACCES"]
    finally:
        if init_pid is not None:
            os.kill(init_pid, 9)
            procs.wait_exit(init_pid)
        try:
            creator.wait(PAUSE_TIMEOUT)  # it sees its init die and fails
        except subprocess.TimeoutExpired:
            creator.kill()
            creator.wait()
        runtime.delete(container_id, force=True).ok()


@pytest.mark.ours_only  # ociruntime's trampoline
def test_cve_2019_5736_created_init_is_the_sealed_trampoline(runtime, bundle, container_id, make_id):
    """From "ready" to `start` the init is ociruntime-dmz from its sealed memfd
    (csrc/dmz/dmz.c), non-dumpable while it waits: nothing of the host's to reach, and
    /proc/1/exe closed to container processes all the same."""
    cap_prm = _container_cap_prm(runtime, bundle, make_id)
    bundle.sh("echo started")
    created = create(runtime, bundle, container_id)
    try:
        assert os.readlink(f"/proc/{created.pid}/exe").startswith("/memfd:ociruntime-dmz")
        assert _status_field(created.pid, "CapPrm") == cap_prm
        assert _attack_with_container_credentials(created.pid, cap_prm) == ["readlink:EACCES", "read:EACCES",
                                                                            "write:EACCES"]
        runtime.start(container_id).ok()
        assert procs.wait_exit(created.pid).exit_code == 0
        assert created.output() == "started\n"
    finally:
        runtime.delete(container_id, force=True).ok()


@pytest.mark.ours_only  # uses ociruntime's fault points
def test_cve_2019_5736_exec_stage_exe_is_out_of_the_containers_reach(runtime, bundle, container_id, make_id):
    """Protected by prctl(PR_SET_DUMPABLE, 0) in exec's stage 1 before setns (exec_child.py):
    its child runs in the container's PID namespace, visible to every container process."""
    cap_prm = _container_cap_prm(runtime, bundle, make_id)
    bundle.sh(SLEEPER)
    created = create(runtime, bundle, container_id)
    runtime.start(container_id).ok()
    created.wait_output("ready")
    execer = _background(runtime, "exec", container_id, "true", env={"OCIRUNTIME_FAULT": "exec_before_execve:pause"})
    stage = 0
    try:
        def paused_stage() -> bool:
            nonlocal stage
            for pid in procs.descendants(execer.pid):
                try:
                    if Path(f"/proc/{pid}/comm").read_text().strip() == "oci:[2:EXEC]":
                        stage = pid
                except FileNotFoundError:
                    continue
            return stage != 0 and _paused_with_final_caps(stage, cap_prm)

        procs.wait_until(paused_stage, "exec's stage 2 at exec_before_execve")
        inner_pid = _status_field(stage, "NSpid").split()[-1]  # its pid inside the container
        out = runtime.call("exec", container_id, "sh", "-c", EXE_ATTACK.format(pid=inner_pid)).ok().stdout_text()
        assert "comm=oci:[2:EXEC]" in out, out
        _assert_exe_denied(out)
    finally:
        if stage:
            os.kill(stage, 9)
        execer.wait(PAUSE_TIMEOUT)
        runtime.kill(container_id, "KILL")
        procs.wait_exit(created.pid)
        runtime.delete(container_id, force=True).ok()


# --- CVE-2024-21626 --------------------------------------------------------------------------

@pytest.fixture
def host_dir_fd(test_dir):
    """An fd of a host directory, like the shim's fds a caller passes to the runtime."""
    host = test_dir / "host-secrets"
    host.mkdir()
    (host / "secret").write_text("host only")
    fd = os.open(host, os.O_RDONLY | os.O_DIRECTORY)
    yield host, fd
    os.close(fd)


def test_cve_2024_21626_preserved_host_dir_fd_as_cwd_is_refused(runtime, bundle, container_id, host_dir_fd):
    """Protected by enter_cwd (child.py): after chdir, getcwd must reach the container's root."""
    host, fd = host_dir_fd
    bundle.process["cwd"] = "/proc/self/fd/3"
    bundle.sh("cat secret; ls")
    result = runtime.run(container_id, bundle, "--preserve-fds", "1", extra_fds={3: fd})
    result.failed(BREAKOUT)
    assert "host only" not in result.stdout_text()
    assert not runtime.exists(container_id)


@pytest.mark.ours_only  # runc 1.1.5 predates the fix of the mkdir path
def test_cve_2024_21626_missing_cwd_is_not_created_through_a_host_fd(runtime, bundle, container_id, host_dir_fd):
    """Protected by _prepare_cwd (child.py): the deepest existing ancestor is entered and
    checked before anything is created."""
    host, fd = host_dir_fd
    bundle.process["cwd"] = "/proc/self/fd/3/planted"
    runtime.run(container_id, bundle, "--preserve-fds", "1", extra_fds={3: fd}).failed(BREAKOUT)
    assert sorted(os.listdir(host)) == ["secret"]


def test_cve_2024_21626_leaked_host_fd_is_closed_before_it_can_be_a_cwd(runtime, bundle, container_id, host_dir_fd):
    """Protected by enter_cwd (child.py): a leaked fd stays open in the init until execve
    (close-on-exec), so /proc/self/fd/7 names the host directory there; getcwd shows it is
    outside the root and the start is refused."""
    _host, fd = host_dir_fd
    bundle.process["cwd"] = "/proc/self/fd/7"
    bundle.sh("cat secret")
    result = runtime.run(container_id, bundle, extra_fds={7: fd})
    assert result.returncode != 0, result.describe()
    assert "host only" not in result.stdout_text()


def test_cve_2024_21626_only_stdio_and_preserved_fds_reach_the_process(runtime, bundle, container_id, host_dir_fd):
    """Protected by keep_only_stdio_and_preserved (close-on-exec above 2 + --preserve-fds)."""
    _host, fd = host_dir_fd
    bundle.sh("ls /proc/$$/fd; true")  # the shell's fds, not those of ls (no exec of the last command)
    result = runtime.run(container_id, bundle, "--preserve-fds", "2", extra_fds={3: fd, 4: fd, 7: fd, 9: fd}).ok()
    assert result.stdout_text().split() == ["0", "1", "2", "3", "4"], result.describe()


def test_cve_2024_21626_exec_fds_and_cwd(runtime, bundle, container_id, host_dir_fd):
    """The same two protections for exec (exec_child.py)."""
    _host, fd = host_dir_fd
    bundle.sh(SLEEPER)
    created = create(runtime, bundle, container_id)
    try:
        runtime.start(container_id).ok()
        created.wait_output("ready")
        listed = runtime.call("exec", "--preserve-fds", "1", container_id, "sh", "-c", "ls /proc/$$/fd; true",
                              extra_fds={3: fd, 5: fd, 8: fd}).ok()
        assert listed.stdout_text().split() == ["0", "1", "2", "3"], listed.describe()
        escaped = runtime.call("exec", "--preserve-fds", "1", "--cwd", "/proc/self/fd/3", container_id,
                               "cat", "secret", extra_fds={3: fd})
        assert escaped.returncode != 0 and "host only" not in escaped.stdout_text(), escaped.describe()
        assert BREAKOUT in escaped.stderr_text(), escaped.describe()
    finally:
        runtime.kill(container_id, "KILL")
        procs.wait_exit(created.pid)
        runtime.delete(container_id, force=True).ok()


# --- CVE-2025-31133 / 52565 / 52881: swaps between mounting and use ---------------------------

def _create_container_hook(bundle, test_dir: Path, script: str) -> None:
    """A createContainer hook: runs in the container's mount namespace after the mounts and
    before pivot_root, masking, sysctls and /dev/console, where a racing attacker acts."""
    hook = test_dir / "swap.sh"
    hook.write_text(f"#!/bin/sh\nset -e\nR={bundle.rootfs}\n{script}\n")
    hook.chmod(0o755)
    bundle.add_hook("createContainer", str(hook))


@pytest.fixture
def core_pattern_unchanged():
    before = Path("/proc/sys/kernel/core_pattern").read_text()
    yield
    assert Path("/proc/sys/kernel/core_pattern").read_text() == before


@pytest.mark.ours_only  # runc 1.1.5 is vulnerable
@pytest.mark.parametrize("swap", [
    pytest.param("rm $R/dev/null; ln -s /proc/sys/kernel/core_pattern $R/dev/null", id="symlink-to-procfs"),
    pytest.param("rm $R/dev/null; : > $R/dev/null", id="regular-file"),
    pytest.param("mount --bind /proc/sys/kernel/core_pattern $R/dev/null", id="procfs-bind-mounted-over"),
])
def test_cve_2025_31133_masking_checks_dev_null_is_the_null_device(
        runtime, bundle, container_id, test_dir, swap, core_pattern_unchanged):
    """Protected by the masking code opening /dev/null with O_NOFOLLOW and checking it is the
    char device 1:3 before binding it (rootfs finalize): otherwise core_pattern would be
    bound over /proc/kcore & co, writable for the container."""
    bundle.linux["maskedPaths"] = ["/proc/kcore", "/proc/timer_list"]
    _create_container_hook(bundle, test_dir, swap)
    bundle.sh("echo '|/bin/pwned' > /proc/kcore; cat /proc/kcore")
    result = runtime.create(container_id, bundle)
    result.failed("linux.maskedPaths")
    assert not runtime.exists(container_id)


@pytest.mark.ours_only  # runc 1.1.5 is vulnerable
def test_cve_2025_52881_sysctl_write_redirected_by_a_bind_mount_is_refused(
        runtime, bundle, container_id, test_dir):
    """Protected by _apply_sysctl (child.py): the opened /proc/sys file must be on procfs
    (fstatfs); a host file bind-mounted over it would otherwise receive the write."""
    target = test_dir / "host-file"
    target.write_text("untouched")
    _create_container_hook(bundle, test_dir, f"mount --bind {target} $R/proc/sys/kernel/domainname")
    bundle.config["linux"]["sysctl"] = {"kernel.domainname": "pwned"}
    runtime.create(container_id, bundle).failed('linux.sysctl["kernel.domainname"]', "is not on procfs")
    assert target.read_text() == "untouched"
    assert not runtime.exists(container_id)


@pytest.mark.ours_only  # runc 1.1.5 is vulnerable
def test_cve_2025_52565_dev_console_symlink_is_not_followed(
        runtime, bundle, container_id, test_dir, core_pattern_unchanged):
    """Protected by _bind_console (console/setup.py): /dev/console is resolved inside the root
    without following symlinks and mounted onto by fd."""
    from integration.test_console import ConsoleReceiver

    short_dir = Path(tempfile.mkdtemp(prefix="oct-console-", dir="/tmp"))  # sun_path: 108 bytes
    receiver = ConsoleReceiver(short_dir / "console.sock")
    try:
        bundle.process["terminal"] = True
        _create_container_hook(bundle, test_dir,
                               "rm -f $R/dev/console; ln -s /proc/sys/kernel/core_pattern $R/dev/console")
        bundle.sh("echo '|/bin/pwned' > /dev/console")
        result = runtime.create(container_id, bundle, "--console-socket", receiver.path)
        result.failed("/dev/console")
        assert not runtime.exists(container_id)
    finally:
        receiver.close()
        (short_dir / "console.sock").unlink(missing_ok=True)
        short_dir.rmdir()


# --- a malicious rootfs: device paths through symlinks --------------------------------------

def test_device_path_through_a_symlink_stays_inside_the_rootfs(runtime, bundle, container_id, test_dir):
    """Protected by resolving device paths inside the rootfs (rootfs/resolve.py): the
    absolute link names the host's directory only if followed from the host's root."""
    outside = test_dir / "outside"
    outside.mkdir()
    (bundle.rootfs / "devlink").symlink_to(outside)
    bundle.linux.setdefault("devices", []).append(
        {"path": "/devlink/planted", "type": "c", "major": 1, "minor": 3, "fileMode": 0o666})
    out = inside(runtime, bundle, container_id, "stat -c '%t:%T' /devlink/planted")
    assert out.strip() == "1:3"
    assert list(outside.iterdir()) == []


def _host_interpreter_files() -> list[Path]:
    """The runtime's interpreter (what /proc/self/exe names in its stages) and its
    shared libraries, as the host has them."""
    interpreter = Path(os.path.realpath(sys.executable))
    out = subprocess.run(["ldd", str(interpreter)], capture_output=True, text=True, check=True).stdout
    libs = {Path(os.path.realpath(word)) for line in out.splitlines() for word in line.split()
            if word.startswith("/")}
    return [interpreter, *sorted(libs)]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _give_rootfs_the_interpreters_libraries(rootfs: Path, files: list[Path]) -> None:
    """Everything the host interpreter needs to start (loader, libpython, libc): if it ever
    runs inside the container, it gets far enough to say so ("Python ...")."""
    for lib in files[1:]:
        inside_path = rootfs / lib.relative_to("/")
        inside_path.parent.mkdir(parents=True, exist_ok=True)
        inside_path.write_bytes(lib.read_bytes())
        inside_path.chmod(0o755)
    loader = Path("/lib64/ld-linux-x86-64.so.2")
    if loader.exists():
        (rootfs / "lib64").mkdir(exist_ok=True)
        (rootfs / "lib64" / loader.name).write_bytes(loader.resolve().read_bytes())
        (rootfs / "lib64" / loader.name).chmod(0o755)


def _plant_proc_self_exe(rootfs: Path, how: str) -> None:
    evil = rootfs / "evil"
    if how == "script":
        evil.write_text("#!/proc/self/exe\nprint('host interpreter ran in the container')\n")
        evil.chmod(0o755)
    else:
        evil.symlink_to("/proc/self/exe")


def _assert_no_host_interpreter_ran(runtime, result, files: list[Path], before: list[str]) -> None:
    output = result.stdout_text() + result.stderr_text()
    assert "host interpreter ran" not in output, result.describe()
    assert "python" not in output.lower(), result.describe()  # loader or interpreter complaints
    assert [_digest(f) for f in files] == before
    if not runtime.is_runc:  # runc runs its own memfd clone (cloned_binary) instead
        assert "ociruntime-dmz: not started by ociruntime" in result.stderr_text(), result.describe()
        assert result.returncode == 127, result.describe()


@pytest.mark.parametrize("how", ["script", "symlink"])
def test_cve_2019_5736_proc_self_exe_as_interpreter_never_runs_the_host_runtime(runtime, bundle, container_id, how):
    """The original exploit: the container's entrypoint is a script whose interpreter is
    /proc/self/exe (or a symlink to it), which the kernel resolves in the exec'ing process.
    Protected by the ociruntime-dmz trampoline (csrc/dmz/dmz.c, linux/exec.py): the last
    execve is made from a sealed memfd, so /proc/self/exe is that trampoline, which refuses
    an argv it did not get from the runtime. Without it the host interpreter, whose
    libraries the image holds here, would start inside the container, dumpable again."""
    files = _host_interpreter_files()
    before = [_digest(f) for f in files]
    _give_rootfs_the_interpreters_libraries(bundle.rootfs, files)
    _plant_proc_self_exe(bundle.rootfs, how)
    bundle.args("/evil")
    result = runtime.run(container_id, bundle)
    _assert_no_host_interpreter_ran(runtime, result, files, before)
    runtime.delete(container_id, force=True)


@pytest.mark.parametrize("how", ["script", "symlink"])
def test_cve_2019_5736_proc_self_exe_via_exec_never_runs_the_host_runtime(runtime, bundle, container_id, how):
    """The same through `exec` (exec_child.py goes through the trampoline too)."""
    files = _host_interpreter_files()
    before = [_digest(f) for f in files]
    _give_rootfs_the_interpreters_libraries(bundle.rootfs, files)
    _plant_proc_self_exe(bundle.rootfs, how)
    bundle.sh(SLEEPER)
    created = create(runtime, bundle, container_id)
    try:
        runtime.start(container_id).ok()
        created.wait_output("ready")
        result = runtime.call("exec", container_id, "/evil")
        _assert_no_host_interpreter_ran(runtime, result, files, before)
    finally:
        runtime.kill(container_id, "KILL")
        procs.wait_exit(created.pid)
        runtime.delete(container_id, force=True).ok()
