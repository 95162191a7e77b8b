"""Every verb and state transition of the runtime-spec lifecycle, with runc's choices where
the spec is silent (callers.md §5.3, §5.4, §5.6, §5.8)."""

from __future__ import annotations

import json
import os
import re
import signal
from datetime import datetime

import pytest
from helpers import procs
from helpers.containers import SIGNAL_WAITER, SLEEPER, create, start_and_wait

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def parse_rfc3339(text: str) -> datetime:
    assert RFC3339.match(text), text
    head, _, frac = text.rstrip("Z").partition(".")
    return datetime.fromisoformat(head)


# --- create / state -------------------------------------------------------------------------

def test_create_prints_nothing_and_leaves_init_waiting(runtime, bundle, container_id):
    bundle.sh("echo should-not-run-before-start")
    c = create(runtime, bundle, container_id)
    assert c.create.stdout_text() == "" and c.create.stderr_text() == ""
    assert procs.alive(c.pid)
    assert runtime.status(container_id) == "created"
    assert c.output() == ""  # the process has not been executed yet
    runtime.delete(container_id).ok()


def test_pid_file_is_decimal_host_pid_without_newline(runtime, bundle, container_id):
    c = create(runtime, bundle, container_id)
    raw = c.pid_file.read_bytes()
    assert re.fullmatch(rb"[1-9][0-9]*", raw), raw
    assert int(raw) == runtime.state(container_id)["pid"]
    assert os.path.exists(f"/proc/{int(raw)}")
    runtime.delete(container_id).ok()


def test_relative_pid_file_is_relative_to_the_callers_cwd(runtime, bundle, container_id, test_dir):
    elsewhere = test_dir / "cwd"
    elsewhere.mkdir()
    runtime.create(container_id, bundle, "--pid-file", "init.pid", cwd=elsewhere).ok()
    assert int((elsewhere / "init.pid").read_text()) == runtime.state(container_id)["pid"]
    runtime.delete(container_id).ok()


def test_state_json_of_created_container(runtime, bundle, container_id):
    bundle.config["annotations"] = {"org.example.key": "value"}
    c = create(runtime, bundle, container_id)
    state = runtime.state(container_id)
    assert state["id"] == container_id
    assert state["status"] == "created"
    assert state["pid"] == c.pid
    assert state["bundle"] == str(bundle.path)
    assert state["rootfs"] == str(bundle.rootfs)
    assert re.fullmatch(r"1\.\d+\.\d+(-\S+)?", state["ociVersion"])  # the spec version the state follows
    assert state["annotations"] == {"org.example.key": "value"}
    assert state["owner"] == ""
    created = parse_rfc3339(state["created"])
    assert abs((datetime.utcnow() - created).total_seconds()) < 3600  # a sane wall-clock stamp
    runtime.delete(container_id).ok()


def test_state_of_running_then_stopped_container(runtime, bundle, container_id):
    bundle.sh(SIGNAL_WAITER)
    c = create(runtime, bundle, container_id)
    runtime.start(container_id).ok()
    c.wait_output("ready")
    running = runtime.state(container_id)
    assert running["status"] == "running" and running["pid"] == c.pid
    runtime.kill(container_id, "KILL").ok()
    procs.wait_exit(c.pid)
    stopped = runtime.state(container_id)
    assert stopped["status"] == "stopped"
    assert stopped["pid"] == 0
    assert stopped["created"] == running["created"]
    runtime.delete(container_id).ok()


def test_zombie_init_is_stopped(runtime, bundle, container_id):
    """An init that exited but was not reaped yet (we are its subreaper) counts as stopped."""
    import select

    c = create(runtime, bundle, container_id)
    runtime.start(container_id).ok()
    pidfd = os.pidfd_open(c.pid)
    try:
        assert select.select([pidfd], [], [], procs.WAIT_TIMEOUT)[0], "the init never exited"
    finally:
        os.close(pidfd)
    assert procs.proc_state(c.pid) == "Z"
    state = runtime.state(container_id)
    assert state["status"] == "stopped" and state["pid"] == 0
    runtime.kill(container_id, "KILL").failed("container not running")
    runtime.delete(container_id).ok()
    assert procs.wait_exit(c.pid).exit_code == 0


def test_state_of_unknown_container(runtime, container_id):
    runtime.state_result(container_id).failed("container does not exist")


def test_create_with_existing_id_fails(runtime, bundle, container_id):
    c = create(runtime, bundle, container_id)
    runtime.create(container_id, bundle).failed("container with given ID already exists")
    assert runtime.state(container_id)["pid"] == c.pid  # the first one is untouched
    runtime.delete(container_id).ok()


@pytest.mark.parametrize("bad_id, message", [
    ("a/b", "invalid container ID format"),
    ("..", "invalid container ID format"),
    ("with space", "invalid container ID format"),
    ("semi;colon", "invalid container ID format"),
    ("", ""),  # runc: "container id cannot be empty"; the wording is free
])
def test_create_with_bad_id_fails(runtime, bundle, bad_id, message):
    before = sorted(os.listdir(runtime.root))
    runtime.create(bad_id, bundle).failed(*filter(None, [message]))
    assert sorted(os.listdir(runtime.root)) == before


def test_create_defaults_the_bundle_to_cwd(runtime, bundle, container_id):
    runtime.call("create", container_id, cwd=bundle.path).ok()
    assert runtime.state(container_id)["bundle"] == str(bundle.path)
    runtime.delete(container_id).ok()


# --- start ---------------------------------------------------------------------------------

def test_start_runs_the_process_and_prints_nothing(runtime, bundle, container_id):
    bundle.sh("echo hello from the container")
    c = create(runtime, bundle, container_id)
    start = runtime.start(container_id).ok()
    assert procs.wait_exit(c.pid).exit_code == 0
    assert start.stdout_text() == "" and start.stderr_text() == ""
    assert c.output() == "hello from the container\n"
    assert runtime.status(container_id) == "stopped"
    runtime.delete(container_id).ok()


def test_start_twice_fails_while_running(runtime, bundle, container_id):
    bundle.sh(SLEEPER)
    c = create(runtime, bundle, container_id)
    runtime.start(container_id).ok()
    c.wait_output("ready")
    runtime.start(container_id).failed("cannot start an already running container")
    runtime.delete(container_id, force=True).ok()
    procs.wait_exit(c.pid)


def test_start_of_stopped_container_fails(runtime, bundle, container_id):
    c = create(runtime, bundle, container_id)
    start_and_wait(runtime, c)
    runtime.start(container_id).failed("cannot start a container that has stopped")
    runtime.delete(container_id).ok()


def test_start_of_unknown_container(runtime, container_id):
    runtime.start(container_id).failed("container does not exist")


def test_exit_status_is_seen_by_the_subreaper(runtime, bundle, container_id):
    bundle.sh("exit 42")
    c = create(runtime, bundle, container_id)
    assert start_and_wait(runtime, c).exit_code == 42
    runtime.delete(container_id).ok()


# --- kill ----------------------------------------------------------------------------------

@pytest.mark.parametrize("how, code", [
    ([], 15),  # default SIGTERM
    (["TERM"], 15),
    (["SIGTERM"], 15),
    (["USR1"], 10),
    (["SIGUSR2"], 12),
    ([str(int(signal.SIGUSR1))], 10),
    (["1"], 1),  # SIGHUP by number
    (["hup"], 1),  # runc upper-cases names
])
def test_kill_delivers_the_named_signal(runtime, bundle, container_id, how, code):
    bundle.sh(SIGNAL_WAITER)
    c = create(runtime, bundle, container_id)
    runtime.start(container_id).ok()
    c.wait_output("ready")
    kill = runtime.kill(container_id, *how).ok()
    assert kill.stdout_text() == "" and kill.stderr_text() == ""
    assert procs.wait_exit(c.pid).exit_code == code
    runtime.delete(container_id).ok()


@pytest.mark.parametrize("name", ["KILL", "SIGKILL", "9"])
def test_kill_with_sigkill(runtime, bundle, container_id, name):
    bundle.sh(SLEEPER)
    c = create(runtime, bundle, container_id)
    runtime.start(container_id).ok()
    c.wait_output("ready")
    runtime.kill(container_id, name).ok()
    assert procs.wait_exit(c.pid).signal == signal.SIGKILL
    assert runtime.status(container_id) == "stopped"
    runtime.delete(container_id).ok()


def test_kill_with_signal_zero_only_checks_the_container_is_alive(runtime, bundle, container_id):
    """runc takes signal 0 as kill(2) does: nothing is sent, a stopped container is an error."""
    bundle.sh(SLEEPER)
    c = create(runtime, bundle, container_id)
    runtime.kill(container_id, "0").ok()  # created: the waiting init is there
    runtime.start(container_id).ok()
    c.wait_output("ready")
    runtime.kill(container_id, "0").ok()
    assert runtime.status(container_id) == "running"
    runtime.kill(container_id, "KILL").ok()
    assert procs.wait_exit(c.pid).signal == signal.SIGKILL
    gone = runtime.kill(container_id, "0")
    assert gone.returncode != 0 and "container not running" in gone.stderr_text()
    runtime.delete(container_id).ok()


def test_kill_of_created_container_kills_the_init(runtime, bundle, container_id):
    c = create(runtime, bundle, container_id)
    runtime.kill(container_id, "KILL").ok()
    assert procs.wait_exit(c.pid).signal == signal.SIGKILL
    assert runtime.status(container_id) == "stopped"
    runtime.delete(container_id).ok()


@pytest.mark.ours_only  # runc's waiting init exits 2 (Go's runtime), ours 128+signal
@pytest.mark.parametrize("name", ["TERM", "HUP"])
def test_kill_of_created_container_with_a_catchable_signal_ends_the_init(runtime, bundle, container_id, name):
    """A PID-namespace init ignores signals it has no handler for; the waiting init has one."""
    c = create(runtime, bundle, container_id)
    runtime.kill(container_id, name).ok()
    assert procs.wait_exit(c.pid).exit_code == 128 + getattr(signal, f"SIG{name}")
    assert runtime.status(container_id) == "stopped"
    runtime.delete(container_id).ok()


def test_kill_all_is_accepted(runtime, bundle, container_id):
    bundle.sh(SLEEPER)
    c = create(runtime, bundle, container_id)
    runtime.start(container_id).ok()
    c.wait_output("ready")
    runtime.kill(container_id, "KILL", all_=True).ok()
    assert procs.wait_exit(c.pid).signal == signal.SIGKILL
    runtime.delete(container_id).ok()


def test_kill_of_stopped_container_fails(runtime, bundle, container_id):
    c = create(runtime, bundle, container_id)
    start_and_wait(runtime, c)
    runtime.kill(container_id, "KILL").failed("container not running")
    runtime.delete(container_id).ok()


def test_kill_of_unknown_container(runtime, container_id):
    runtime.kill(container_id, "KILL").failed("container does not exist")


def test_kill_with_unknown_signal_fails_and_changes_nothing(runtime, bundle, container_id):
    c = create(runtime, bundle, container_id)
    runtime.kill(container_id, "SIGFOO").failed("signal")
    assert runtime.status(container_id) == "created" and procs.alive(c.pid)
    runtime.delete(container_id).ok()


# --- delete --------------------------------------------------------------------------------

def test_delete_of_stopped_container_removes_everything(runtime, bundle, container_id, leak_scope):
    from helpers.leaks import container_traces

    c = create(runtime, bundle, container_id)
    start_and_wait(runtime, c)
    delete = runtime.delete(container_id).ok()
    assert delete.stdout_text() == "" and delete.stderr_text() == ""
    assert container_traces(leak_scope, container_id) == []
    runtime.state_result(container_id).failed("container does not exist")


def test_delete_of_created_container_kills_it(runtime, bundle, container_id):
    c = create(runtime, bundle, container_id)
    runtime.delete(container_id).ok()
    procs.wait_exit(c.pid)
    runtime.state_result(container_id).failed("container does not exist")


def test_delete_of_running_container_needs_force(runtime, bundle, container_id):
    bundle.sh(SLEEPER)
    c = create(runtime, bundle, container_id)
    runtime.start(container_id).ok()
    c.wait_output("ready")
    runtime.delete(container_id).failed("cannot delete container", "that is not stopped")
    assert runtime.status(container_id) == "running"
    runtime.delete(container_id, force=True).ok()
    assert procs.wait_exit(c.pid).signal == signal.SIGKILL
    runtime.state_result(container_id).failed("container does not exist")


def test_delete_of_unknown_container(runtime, container_id):
    runtime.delete(container_id).failed("container does not exist")


def test_delete_force_of_unknown_container_succeeds(runtime, container_id):
    result = runtime.delete(container_id, force=True).ok()
    assert result.stdout_text() == ""


def test_delete_twice(runtime, bundle, container_id):
    create(runtime, bundle, container_id)
    runtime.delete(container_id).ok()
    runtime.delete(container_id).failed("container does not exist")


def test_id_is_reusable_after_delete(runtime, bundle, container_id):
    first = create(runtime, bundle, container_id)
    runtime.delete(container_id).ok()
    procs.wait_exit(first.pid)
    second = create(runtime, bundle, container_id)
    assert second.pid != first.pid
    assert runtime.status(container_id) == "created"
    runtime.delete(container_id).ok()


# --- run -----------------------------------------------------------------------------------

def test_run_exits_with_the_process_status(runtime, bundle, container_id):
    bundle.sh("echo out; echo err >&2; exit 7")
    result = runtime.run(container_id, bundle)
    assert result.returncode == 7, result.describe()
    assert result.stdout_text() == "out\n"
    assert result.stderr_text() == "err\n"
    runtime.state_result(container_id).failed("container does not exist")  # run cleans up


def test_run_exits_128_plus_signal(runtime, bundle, container_id):
    bundle.drop_namespace("pid")  # as pid 1 of a namespace it could not kill itself
    bundle.sh("kill -USR1 $$")
    result = runtime.run(container_id, bundle)
    assert result.returncode == 128 + signal.SIGUSR1, result.describe()


def test_a_foreground_run_leaves_the_container_to_other_callers(runtime, bundle, container_id, test_dir):
    """While `run` waits for its process, `state`, `exec`, `pause` and `kill` from other
    callers act at once (runc holds no lock while it waits); `run` then exits 128+9 and
    removes the container. A hang fails through the call timeout."""
    import subprocess

    bundle.sh(SLEEPER)
    bundle.save()
    out, err = test_dir / "run.out", test_dir / "run.err"
    with open(out, "wb") as out_f, open(err, "wb") as err_f:
        run = subprocess.Popen([runtime.path, "--root", str(runtime.root), "run", "--bundle", str(bundle.path),
                                container_id], stdin=subprocess.DEVNULL, stdout=out_f, stderr=err_f,
                               env=runtime.env())
    try:
        procs.wait_for_text(out, "ready")
        assert runtime.call("state", container_id, timeout=20).ok().stdout_text().count('"running"') == 1
        assert runtime.call("exec", container_id, "true", timeout=20).returncode == 0
        runtime.call("pause", container_id, timeout=20).ok()
        runtime.call("resume", container_id, timeout=20).ok()
        runtime.call("kill", container_id, "KILL", timeout=20).ok()
        assert run.wait(timeout=30) == 128 + signal.SIGKILL, err.read_text()
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    runtime.state_result(container_id).failed("container does not exist")  # run cleaned up


def test_a_foreground_exec_leaves_the_container_to_other_callers(runtime, bundle, container_id, test_dir):
    """While `exec` waits for its process, `update` and `pause` act at once (runc holds no
    lock); CRI's ExecSync would otherwise hold up resource updates. A hang fails through
    the call timeout."""
    import subprocess

    bundle.sh(SLEEPER)
    c = create(runtime, bundle, container_id)
    runtime.start(container_id).ok()
    c.wait_output("ready")
    out, err = test_dir / "exec.out", test_dir / "exec.err"
    with open(out, "wb") as out_f, open(err, "wb") as err_f:
        execed = subprocess.Popen([runtime.path, "--root", str(runtime.root), "exec", container_id,
                                   "sh", "-c", "echo started; exec sleep 600"],
                                  stdin=subprocess.DEVNULL, stdout=out_f, stderr=err_f, env=runtime.env())
    try:
        procs.wait_for_text(out, "started")
        runtime.call("update", "--pids-limit", "100", container_id, timeout=20).ok()
        runtime.call("pause", container_id, timeout=20).ok()
        runtime.call("resume", container_id, timeout=20).ok()
    finally:
        runtime.kill(container_id, "KILL").ok()
        execed.wait(timeout=30)
    assert procs.wait_exit(c.pid).signal == signal.SIGKILL
    runtime.delete(container_id).ok()


@pytest.mark.parametrize(("flags", "message"), [
    (["--cwd", "tmp"], "Cwd must be an absolute path"),
    (["--env", "NO_VALUE"], "invalid environment variable"),
    pytest.param(["--cap", "SYS_ADMIN"], '--cap "SYS_ADMIN": not a known capability',
                 marks=pytest.mark.ours_only),  # runc warns and drops it; unknown names fail here
])
def test_exec_flags_are_checked_as_flags(runtime, bundle, container_id, flags, message):
    """runc refuses the first two; the message names the flag, not config.json."""
    bundle.sh(SLEEPER)
    c = create(runtime, bundle, container_id)
    runtime.start(container_id).ok()
    c.wait_output("ready")
    failed = runtime.call("exec", *flags, container_id, "true")
    assert failed.returncode != 0 and message in failed.stderr_text(), failed.describe()
    assert "config.json" not in failed.stderr_text()
    runtime.kill(container_id, "KILL").ok()
    procs.wait_exit(c.pid)
    runtime.delete(container_id).ok()


@pytest.mark.ours_only  # runc's create stats its own fds: Go's runtime holds 3 and 4 open
def test_preserve_fds_that_are_not_open_are_refused(runtime, bundle, container_id):
    """As runc's exec: --preserve-fds N names fds 3..N+2 of the caller, and a closed one is
    an error, not a process started without it (the call gets only stdio here)."""
    bundle.sh(SLEEPER)
    runtime.create(container_id, bundle, "--preserve-fds", "2").failed("unable to stat preserved-fd 0 (of 2)")
    assert not runtime.exists(container_id)
    c = create(runtime, bundle, container_id)
    runtime.start(container_id).ok()
    c.wait_output("ready")
    runtime.call("exec", "--preserve-fds", "1", container_id, "true").failed("unable to stat preserved-fd 0 (of 1)",
                                                                             code=255)
    runtime.kill(container_id, "KILL").ok()
    procs.wait_exit(c.pid)
    runtime.delete(container_id).ok()


def test_run_detached(runtime, bundle, container_id, test_dir):
    bundle.sh(SLEEPER)
    pid_file = test_dir / "run.pid"
    result = runtime.run(container_id, bundle, "--detach", "--pid-file", pid_file).ok()
    procs.wait_for_text(result.stdout_path, "ready")
    pid = int(pid_file.read_text())
    assert runtime.state(container_id)["status"] == "running"
    runtime.kill(container_id, "KILL").ok()
    assert procs.wait_exit(pid).signal == signal.SIGKILL
    runtime.delete(container_id).ok()


@pytest.mark.ours_only  # runc's init is its direct child: it waits without a subreaper
def test_run_no_subreaper_needs_detach(runtime, bundle, container_id):
    runtime.run(container_id, bundle, "-no-subreaper").failed("--no-subreaper needs --detach")
    runtime.state_result(container_id).failed("container does not exist")  # nothing created


def test_run_no_subreaper_detached_runs(runtime, bundle, container_id, test_dir):
    bundle.sh(SLEEPER)
    result = runtime.run(container_id, bundle, "--detach", "--no-subreaper").ok()
    procs.wait_for_text(result.stdout_path, "ready")
    assert runtime.state(container_id)["status"] == "running"
    runtime.delete(container_id, force=True).ok()


def test_run_with_existing_id_fails(runtime, bundle, container_id):
    create(runtime, bundle, container_id)
    runtime.run(container_id, bundle).failed("container with given ID already exists")
    runtime.delete(container_id).ok()


# --- list ----------------------------------------------------------------------------------

def test_list_shows_containers_and_their_status(runtime, bundle, make_id, make_bundle):
    created_id, stopped_id = make_id(), make_id()
    create(runtime, bundle, created_id)
    other = make_bundle("other")
    stopped = create(runtime, other, stopped_id)
    start_and_wait(runtime, stopped)

    listed = {c["id"]: c for c in runtime.list_json()}
    assert listed[created_id]["status"] == "created"
    assert listed[created_id]["bundle"] == str(bundle.path)
    assert listed[stopped_id]["status"] == "stopped"
    assert listed[stopped_id]["pid"] == 0
    for entry in (listed[created_id], listed[stopped_id]):
        assert parse_rfc3339(entry["created"])

    quiet = runtime.call("list", "-q").ok().stdout_text().split()
    assert {created_id, stopped_id} <= set(quiet)

    table = runtime.call("list").ok().stdout_text().splitlines()
    assert table[0].split() == ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
    rows = {line.split()[0]: line.split() for line in table[1:]}
    assert rows[created_id][2] == "created" and rows[stopped_id][2] == "stopped"

    runtime.delete(created_id).ok()
    runtime.delete(stopped_id).ok()
    assert not {created_id, stopped_id} & {c["id"] for c in runtime.list_json()}


def test_list_json_is_parseable_with_format_equals(runtime, bundle, container_id):
    create(runtime, bundle, container_id)
    data = json.loads(runtime.call("list", "--format=json").ok().stdout_text())
    assert [c["id"] for c in data if c["id"] == container_id] == [container_id]
    runtime.delete(container_id).ok()
