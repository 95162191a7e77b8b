"""A non-tty container's stdio is the runtime's stdio (callers.md §5.4), and nothing else of
the runtime's leaks into it."""

from __future__ import annotations

import os

from helpers import procs
from helpers.containers import create, start_and_wait


def test_container_stdio_is_the_stdio_given_to_create(runtime, bundle, container_id, test_dir):
    stdin_file = test_dir / "stdin"
    stdin_file.write_text("line from stdin\n")
    bundle.sh("cat; echo to-stderr >&2; stat -L -c %i /proc/self/fd/0 /proc/self/fd/1 /proc/self/fd/2")
    pid_file = test_dir / "init.pid"
    created = runtime.create(container_id, bundle, "--pid-file", pid_file, stdin=stdin_file).ok()
    runtime.start(container_id).ok()
    assert procs.wait_exit(int(pid_file.read_text())).exit_code == 0

    out = created.stdout_text().splitlines()
    assert out[0] == "line from stdin"
    inodes = [int(x) for x in out[1:]]
    assert inodes == [os.stat(p).st_ino for p in (stdin_file, created.stdout_path, created.stderr_path)]
    assert created.stderr_text() == "to-stderr\n"
    runtime.delete(container_id).ok()


def test_container_sees_only_stdio_fds(runtime, bundle, container_id):
    bundle.sh("ls /proc/$$/fd; exit 0")  # the shell's fds (a last command would be exec'd)
    c = create(runtime, bundle, container_id)
    start_and_wait(runtime, c)
    assert c.output().split() == ["0", "1", "2"]
    runtime.delete(container_id).ok()


def test_preserve_fds_passes_extra_fds(runtime, bundle, container_id, test_dir):
    extra = test_dir / "extra"
    extra.write_text("through fd 3\n")
    bundle.sh("ls /proc/$$/fd; cat <&3")
    fd = os.open(extra, os.O_RDONLY)
    try:
        result = runtime.run(container_id, bundle, "--preserve-fds", "1", extra_fds={3: fd})
    finally:
        os.close(fd)
    assert result.returncode == 0, result.describe()
    assert result.stdout_text().split("\n", 4)[:4] == ["0", "1", "2", "3"]
    assert result.stdout_text().endswith("through fd 3\n")


def test_run_passes_stdin_through(runtime, bundle, container_id):
    bundle.sh("tr a-z A-Z")
    result = runtime.run(container_id, bundle, stdin="shout this\n")
    assert result.returncode == 0, result.describe()
    assert result.stdout_text() == "SHOUT THIS\n"


def test_terminal_without_console_socket_fails(runtime, bundle, container_id):
    bundle.process["terminal"] = True
    runtime.create(container_id, bundle).failed(
        "cannot allocate tty if runc will detach without setting console socket")
    runtime.state_result(container_id).failed("container does not exist")


def test_console_socket_without_terminal_fails(runtime, bundle, container_id, test_dir):
    runtime.create(container_id, bundle, "--console-socket", test_dir / "console.sock").failed(
        "cannot use console socket if runc will not detach or allocate tty")
    runtime.state_result(container_id).failed("container does not exist")
