"""process.terminal: the pty handed over the console socket (reference/callers.md §5.2), the
container's /dev/console and stdio, consoleSize, exec with a tty, and the foreground proxy of
`run -t` / `exec -t` (the caller's own terminal, as `runc run -t`)."""

from __future__ import annotations

import errno
import fcntl
import json
import os
import select
import socket
import struct
import subprocess
import termios
from dataclasses import dataclass
from pathlib import Path

import pytest

from helpers import procs
from helpers.containers import SLEEPER, create

WAIT = 30.0  # a safety net against hangs, never an assertion about speed
PTS0 = os.makedev(136, 0)  # /dev/pts/0 of a fresh devpts instance


@dataclass
class Handoff:
    """What arrived on the console socket from one connection."""

    payload: bytes
    fds: list[int]
    ancillary_items: int
    rest: bytes  # anything sent after the first message, up to EOF

    def close(self) -> None:
        for fd in self.fds:
            os.close(fd)


class ConsoleReceiver:
    """A caller's console socket (go-runc `newSocket`, conmon): listen, accept one connection,
    recvmsg the pty master. The runtime connects and sends before its `create` exits, so the
    connection waits in the backlog until we accept it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(str(path))
        self.sock.listen(1)

    def receive(self) -> Handoff:
        """Call after the runtime's `create` / `exec -d` returned: the master must be there
        already (containerd receives it only then), so nothing here waits for it."""
        ready, _, _ = select.select([self.sock], [], [], 0)
        assert ready, "the runtime exited without connecting to the console socket"
        conn, _ = self.sock.accept()
        with conn:
            ready, _, _ = select.select([conn], [], [], 0)
            assert ready, "the runtime exited before the pty master was sent"
            conn.settimeout(WAIT)
            # Room for more than one fd: an extra one must show up, not be cut off.
            data, ancillary, _, _ = conn.recvmsg(4096, socket.CMSG_SPACE(4 * struct.calcsize("i")))
            fds = []
            for level, kind, payload in ancillary:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    fds += [fd for (fd,) in struct.iter_unpack("i", payload)]
            rest = b""
            while chunk := conn.recv(4096):
                rest += chunk
        return Handoff(data, fds, len(ancillary), rest)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def receiver(test_dir):
    r = ConsoleReceiver(test_dir / "console.sock")
    yield r
    r.close()


def read_until_closed(master: int) -> str:
    """Everything the container writes to its terminal, until every peer fd is closed."""
    out = b""
    while True:
        ready, _, _ = select.select([master], [], [], WAIT)
        assert ready, f"the pty stayed open; read so far: {out!r}"
        try:
            chunk = os.read(master, 4096)
        except OSError as err:
            if err.errno == errno.EIO:  # the last peer fd was closed
                break
            raise
        if not chunk:
            break
        out += chunk
    return out.decode(errors="replace")


def terminal_bundle(bundle, script: str, size: tuple[int, int] | None = None):
    bundle.process["terminal"] = True
    if size is not None:
        bundle.process["consoleSize"] = {"height": size[0], "width": size[1]}
    bundle.sh(script)
    bundle.save()  # the runtime helper saves too; the tests that spawn it themselves need this
    return bundle


def expected_payload(runtime, tty_name: str) -> bytes:
    # runc 1.1.5 sends the path it opened the master from; we send the pty's own name.
    return b"/dev/ptmx" if runtime.is_runc else tty_name.encode()


# --- the console socket ---------------------------------------------------------------------

def test_create_sends_the_master_once_over_the_console_socket(runtime, bundle, container_id, receiver):
    terminal_bundle(bundle, "tty; echo hi")
    c = create(runtime, bundle, container_id, "--console-socket", receiver.path)
    handoff = receiver.receive()  # sent before create exited (the call above has returned)
    try:
        assert handoff.ancillary_items == 1
        assert len(handoff.fds) == 1
        assert handoff.rest == b"", "exactly one message, then the runtime closes the socket"
        assert handoff.payload == expected_payload(runtime, "/dev/pts/0")
        master = handoff.fds[0]
        assert os.isatty(master)
        runtime.start(container_id).ok()
        output = read_until_closed(master)
    finally:
        handoff.close()
    assert procs.wait_exit(c.pid).exit_code == 0
    assert output == "/dev/pts/0\r\nhi\r\n"
    assert c.output() == ""  # the runtime's stdout is not the container's any more
    runtime.delete(container_id).ok()


def test_run_detached_with_console_socket(runtime, bundle, container_id, receiver, test_dir):
    terminal_bundle(bundle, "tty; echo detached-hi")
    pid_file = test_dir / "init.pid"
    runtime.run(container_id, bundle, "--detach", "--console-socket", receiver.path,
                "--pid-file", pid_file).ok()
    handoff = receiver.receive()
    try:
        assert (handoff.ancillary_items, len(handoff.fds), handoff.rest) == (1, 1, b"")
        output = read_until_closed(handoff.fds[0])
    finally:
        handoff.close()
    assert procs.wait_exit(int(pid_file.read_text())).exit_code == 0
    assert output == "/dev/pts/0\r\ndetached-hi\r\n"
    runtime.delete(container_id).ok()


def start_on_console(runtime, bundle, container_id, receiver) -> str:
    """create with the console socket, start, read the pty until the process closes it;
    check a clean exit and delete. Returns what the process wrote."""
    c = create(runtime, bundle, container_id, "--console-socket", receiver.path)
    handoff = receiver.receive()
    try:
        runtime.start(container_id).ok()
        output = read_until_closed(handoff.fds[0])
    finally:
        handoff.close()
    assert procs.wait_exit(c.pid).exit_code == 0
    runtime.delete(container_id).ok()
    return output


def test_console_size_is_applied(runtime, bundle, container_id, receiver):
    terminal_bundle(bundle, "stty size", size=(33, 101))
    output = start_on_console(runtime, bundle, container_id, receiver)
    assert output == "33 101\r\n"


def test_pty_is_stdio_dev_console_and_controlling_tty(runtime, bundle, container_id, receiver):
    # fds 0-2 on the pty and nothing else (the console socket never reaches the process);
    # /dev/console is the pty; the pty is the init's controlling terminal (tty_nr in stat).
    terminal_bundle(bundle, "ls -1 /proc/$$/fd; readlink /proc/$$/fd/0; readlink /proc/$$/fd/2; "
                            "stat -c '%t:%T' /dev/console; cut -d' ' -f7 /proc/1/stat; exit 0")
    lines = start_on_console(runtime, bundle, container_id, receiver).splitlines()
    assert lines == ["0", "1", "2", "/dev/pts/0", "/dev/pts/0", "88:0", str(PTS0)]


def test_console_keeps_working_with_a_readonly_root(runtime, bundle, container_id, receiver):
    # /dev/console must be bound before the root becomes read-only.
    bundle.config["root"]["readonly"] = True
    terminal_bundle(bundle, "tty; stat -c '%t:%T' /dev/console")
    output = start_on_console(runtime, bundle, container_id, receiver)
    assert output == "/dev/pts/0\r\n88:0\r\n"


def test_console_in_a_user_namespace(runtime, bundle, container_id, receiver):
    # The init is root of a new user namespace: the pty comes from the devpts it mounted.
    bundle.set_namespace("user")
    bundle.linux["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 1000}]
    bundle.linux["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 1000}]
    terminal_bundle(bundle, "tty; stty size; stat -c '%t:%T' /dev/console", size=(30, 90))
    output = start_on_console(runtime, bundle, container_id, receiver)
    assert output == "/dev/pts/0\r\n30 90\r\n88:0\r\n"


# --- exec -----------------------------------------------------------------------------------

def test_exec_detached_tty_over_console_socket(runtime, bundle, container_id, receiver, test_dir):
    bundle.sh(SLEEPER)
    c = create(runtime, bundle, container_id)
    runtime.start(container_id).ok()
    c.wait_output("ready")
    process = dict(bundle.copy_config()["process"], terminal=True,
                   consoleSize={"height": 20, "width": 70},
                   args=["sh", "-c", "tty; stty size; ls -1 /proc/$$/fd; exit 5"])
    process_file = test_dir / "process.json"
    process_file.write_text(json.dumps(process))
    pid_file = test_dir / "exec.pid"
    runtime.call("exec", "--process", process_file, "--console-socket", receiver.path, "--detach",
                 "--pid-file", pid_file, container_id).ok()
    handoff = receiver.receive()
    try:
        assert (handoff.ancillary_items, len(handoff.fds), handoff.rest) == (1, 1, b"")
        assert handoff.payload == expected_payload(runtime, "/dev/pts/0")
        output = read_until_closed(handoff.fds[0])
    finally:
        handoff.close()
    assert output == "/dev/pts/0\r\n20 70\r\n0\r\n1\r\n2\r\n"
    assert procs.wait_exit(int(pid_file.read_text())).exit_code == 5
    runtime.kill(container_id, "KILL").ok()
    procs.wait_exit(c.pid)
    runtime.delete(container_id).ok()


def test_exec_t_flag_with_console_socket(runtime, bundle, container_id, receiver, test_dir):
    bundle.sh(SLEEPER)
    c = create(runtime, bundle, container_id)
    runtime.start(container_id).ok()
    c.wait_output("ready")
    pid_file = test_dir / "exec.pid"
    runtime.call("exec", "-t", "-d", "--console-socket", receiver.path, "--pid-file", pid_file,
                 container_id, "sh", "-c", "tty; echo exec-hi").ok()
    handoff = receiver.receive()
    try:
        output = read_until_closed(handoff.fds[0])
    finally:
        handoff.close()
    assert output == "/dev/pts/0\r\nexec-hi\r\n"
    assert procs.wait_exit(int(pid_file.read_text())).exit_code == 0
    runtime.kill(container_id, "KILL").ok()
    procs.wait_exit(c.pid)
    runtime.delete(container_id).ok()


# --- foreground: the runtime proxies the pty to its own terminal ----------------------------

def _take_controlling_terminal() -> None:
    # In the child, stdio already on the pty: a new session with it as controlling terminal
    # (runc opens /dev/tty in the foreground).
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def run_on_pty(runtime, argv: list[str], size: tuple[int, int] = (24, 80), typed: bytes = b"",
               interact=None) -> tuple[int, str]:
    """Run the runtime with a fresh pty (of the given size) as its stdio and controlling
    terminal, type ``typed`` into it (or call ``interact(master, slave)``); return the exit
    code and everything that appeared on the terminal. Asserts the runtime restored the
    terminal's settings."""
    master, slave = os.openpty()
    pidfd = -1
    try:
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", size[0], size[1], 0, 0))
        before = termios.tcgetattr(slave)
        proc = subprocess.Popen([runtime.path, "--root", str(runtime.root)] + argv, stdin=slave,
                                stdout=slave, stderr=slave, env=runtime.env(),
                                preexec_fn=_take_controlling_terminal)
        pidfd = os.pidfd_open(proc.pid)
        out = b""
        if typed:
            os.write(master, typed)
        if interact is not None:
            out += interact(master, slave)
        exited = False
        while True:
            ready, _, _ = select.select([master, pidfd], [], [], WAIT)
            assert ready, f"no output and no exit; so far: {out!r}"
            exited = exited or pidfd in ready
            if master in ready:
                out += os.read(master, 4096)
            elif exited:  # exited and nothing left to read
                break
        assert proc.wait(timeout=WAIT) is not None
        assert termios.tcgetattr(slave) == before, "the caller's terminal settings were not restored"
        return proc.returncode, out.decode(errors="replace")
    finally:
        for fd in (pidfd, slave, master):
            if fd >= 0:
                os.close(fd)


def _wait_for_output(master: int, text: bytes) -> bytes:
    out = b""
    while text not in out:
        ready, _, _ = select.select([master], [], [], WAIT)
        assert ready, f"{text!r} never appeared; so far: {out!r}"
        out += os.read(master, 4096)
    return out


def test_run_t_proxies_to_the_callers_terminal(runtime, bundle, container_id):
    terminal_bundle(bundle, "read line; tty; echo got:$line; exit 7", size=(33, 101))
    code, output = run_on_pty(runtime, ["run", "--bundle", str(bundle.path), container_id],
                              typed=b"typed-text\r")
    assert code == 7, output
    assert "/dev/pts/0\r\ngot:typed-text\r\n" in output  # CR became NL in the container's pty
    assert not runtime.exists(container_id)


def test_run_t_ctrl_c_reaches_the_container(runtime, bundle, container_id):
    # Our terminal is raw, so ^C travels as a byte; the container's pty (its controlling
    # terminal) turns it into SIGINT for the container's foreground process group.
    terminal_bundle(bundle, "trap 'echo caught; exit 9' INT; echo ready; sleep 100 & wait $!")

    def interrupt(master: int, _slave: int) -> bytes:
        seen = _wait_for_output(master, b"ready")
        os.write(master, b"\x03")
        return seen

    code, output = run_on_pty(runtime, ["run", "--bundle", str(bundle.path), container_id],
                              interact=interrupt)
    assert code == 9, output
    assert output.endswith("caught\r\n"), output
    assert not runtime.exists(container_id)


@pytest.mark.ours_only  # runc resizes after the process started: its size is a race there
def test_run_t_starts_with_the_callers_window_size(runtime, bundle, container_id):
    terminal_bundle(bundle, "stty size", size=(33, 101))
    code, output = run_on_pty(runtime, ["run", "--bundle", str(bundle.path), container_id], size=(24, 77))
    assert code == 0, output
    assert output == "24 77\r\n"  # the caller's size wins over consoleSize, as in runc


@pytest.mark.ours_only  # runc forwards SIGWINCH from a goroutine: a race with the next read
def test_run_t_follows_the_callers_window_size(runtime, bundle, container_id):
    # The process waits for a line; we resize our terminal (SIGWINCH to the runtime), then type.
    terminal_bundle(bundle, "stty size; read line; stty size", size=(33, 101))

    def resize_then_type(master: int, slave: int) -> bytes:
        seen = _wait_for_output(master, b"24 77")
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 132, 0, 0))
        os.write(master, b"go\r")
        return seen

    code, output = run_on_pty(runtime, ["run", "--bundle", str(bundle.path), container_id], size=(24, 77),
                              interact=resize_then_type)
    assert code == 0, output
    assert output.endswith("50 132\r\n"), output


def test_exec_t_foreground_proxies_to_the_callers_terminal(runtime, bundle, container_id):
    bundle.sh(SLEEPER)
    c = create(runtime, bundle, container_id)
    runtime.start(container_id).ok()
    c.wait_output("ready")
    code, output = run_on_pty(runtime, ["exec", "-t", container_id, "sh", "-c",
                                        "read line; tty; echo got:$line; exit 4"], typed=b"exec-typed\r")
    assert code == 4, output
    assert "/dev/pts/0\r\ngot:exec-typed\r\n" in output
    runtime.kill(container_id, "KILL").ok()
    procs.wait_exit(c.pid)
    runtime.delete(container_id).ok()


@pytest.mark.ours_only  # runc resizes after the process started: its size is a race there
def test_exec_t_starts_with_the_callers_window_size(runtime, bundle, container_id):
    bundle.sh(SLEEPER)
    c = create(runtime, bundle, container_id)
    runtime.start(container_id).ok()
    c.wait_output("ready")
    code, output = run_on_pty(runtime, ["exec", "-t", container_id, "stty", "size"], size=(22, 99))
    assert code == 0, output
    assert output == "22 99\r\n"
    runtime.kill(container_id, "KILL").ok()
    procs.wait_exit(c.pid)
    runtime.delete(container_id).ok()


def test_run_t_under_script(runtime, bundle, container_id, test_dir):
    # How the client tests drive `ctr run -t`: util-linux script gives the runtime a terminal.
    terminal_bundle(bundle, "tty; echo hi; exit 3")
    command = f"{runtime.path} --root {runtime.root} run --bundle {bundle.path} {container_id}"
    result = subprocess.run(["script", "-qec", command, "/dev/null"], stdin=subprocess.DEVNULL,
                            capture_output=True, env=runtime.env(), timeout=WAIT)
    output = result.stdout.decode(errors="replace")
    assert result.returncode == 3, output
    # At its stdin's EOF script types a NUL; a terminal echoes it as ^@ (script's own, or the
    # container's once the runtime passed it on), at a moment that depends on scheduling.
    assert output.replace("^@", "") == "/dev/pts/0\r\nhi\r\n"
    assert not runtime.exists(container_id)


# --- runc's errors --------------------------------------------------------------------------

def test_run_detached_terminal_without_socket_fails(runtime, bundle, container_id):
    terminal_bundle(bundle, "true")
    runtime.run(container_id, bundle, "--detach").failed(
        "cannot allocate tty if runc will detach without setting console socket")
    assert not runtime.exists(container_id)


def test_run_foreground_with_console_socket_fails(runtime, bundle, container_id, receiver):
    terminal_bundle(bundle, "true")
    runtime.run(container_id, bundle, "--console-socket", receiver.path).failed(
        "cannot use console socket if runc will not detach or allocate tty")
    assert not runtime.exists(container_id)


def test_exec_terminal_errors(runtime, bundle, container_id, receiver):
    bundle.sh(SLEEPER)
    c = create(runtime, bundle, container_id)
    runtime.start(container_id).ok()
    c.wait_output("ready")
    runtime.call("exec", "-t", "-d", container_id, "true").failed(
        "cannot allocate tty if runc will detach without setting console socket", code=255)
    runtime.call("exec", "-t", "--console-socket", receiver.path, container_id, "true").failed(
        "cannot use console socket if runc will not detach or allocate tty", code=255)
    runtime.call("exec", "-d", "--console-socket", receiver.path, container_id, "true").failed(
        "cannot use console socket if runc will not detach or allocate tty", code=255)
    runtime.kill(container_id, "KILL").ok()
    procs.wait_exit(c.pid)
    runtime.delete(container_id).ok()


def test_missing_console_socket_fails_and_leaves_nothing(runtime, bundle, container_id, test_dir):
    terminal_bundle(bundle, "true")
    runtime.create(container_id, bundle, "--console-socket", test_dir / "absent.sock").failed(
        "no such file or directory")
    runtime.state_result(container_id).failed("container does not exist")
