"""NOTIFY_SOCKET (sd_notify proxy), as runc does it (runc:notify_socket.go): with NOTIFY_SOCKET
in the runtime's environment the container gets ``<state>/notify`` bind-mounted read-only on
/run/notify and NOTIFY_SOCKET=/run/notify/notify.sock; `start` (and `run`) wait for its READY=
and send ``READY=1`` and ``MAINPID=<init pid>`` to the host socket, here a private datagram
socket the test binds."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import procs
from helpers.sdnotify import SENDER_NAME, Receiver, build_sender

CONTAINER_SOCKET = "/run/notify/notify.sock"


@pytest.fixture(scope="module")
def sender() -> Iterator[Path]:
    directory = Path(tempfile.mkdtemp(prefix="ocinotify-"))
    try:
        yield build_sender(directory)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def receiver(test_dir: Path) -> Iterator[Receiver]:
    with Receiver(test_dir / "host-notify.sock") as recv:
        yield recv


@pytest.fixture
def notify_bundle(bundle, sender: Path):
    shutil.copy(sender, bundle.rootfs / "bin" / SENDER_NAME)
    return bundle


def _env(receiver: Receiver) -> dict[str, str]:
    return {"NOTIFY_SOCKET": str(receiver.path)}


def test_start_relays_ready_and_mainpid(runtime, notify_bundle, container_id, receiver):
    notify_bundle.sh(
        'echo "env=$NOTIFY_SOCKET"; grep " /run/notify " /proc/self/mountinfo | cut -d" " -f6; '
        f'{SENDER_NAME} "$NOTIFY_SOCKET" "STATUS=starting"; '
        f'{SENDER_NAME} "$NOTIFY_SOCKET" "READY=1\\nSTATUS=up"; echo sent; sleep 100'
    )
    pid_file = runtime.io_dir / "init.pid"
    created = runtime.create(container_id, notify_bundle, "--pid-file", pid_file,
                             extra_env=_env(receiver)).ok()
    pid = int(pid_file.read_text())
    assert receiver.pending() == []  # nothing before start
    # start returns only once the container said READY (it blocks until then, as runc's).
    runtime.start(container_id, extra_env=_env(receiver)).ok()
    assert receiver.pending() == [b"READY=1\n", f"MAINPID={pid}\n".encode()]
    out = procs.wait_for_text(created.stdout_path, "sent")
    assert out.splitlines()[:2] == [f"env={CONTAINER_SOCKET}", "ro,nosuid,nodev,noexec,relatime"], out
    runtime.delete(container_id, force=True).ok()


@pytest.mark.ours_only  # runc 1.1.5 only sees READY= at the very start of a datagram (and hangs)
def test_ready_on_a_later_line_of_the_datagram(runtime, notify_bundle, container_id, receiver):
    notify_bundle.sh(f'{SENDER_NAME} "$NOTIFY_SOCKET" "STATUS=up\\nREADY=1"; sleep 100')
    runtime.run(container_id, notify_bundle, "--detach", extra_env=_env(receiver)).ok()
    assert receiver.pending()[0] == b"READY=1\n"
    runtime.delete(container_id, force=True).ok()


@pytest.mark.ours_only  # runc 1.1.5 polls /proc/<pid>: a zombie init (not yet reaped) blocks it
def test_start_returns_when_init_exits_without_ready(runtime, notify_bundle, container_id, receiver):
    notify_bundle.sh(f'{SENDER_NAME} "$NOTIFY_SOCKET" "STATUS=no ready"; exit 3')
    pid_file = runtime.io_dir / "init.pid"
    runtime.create(container_id, notify_bundle, "--pid-file", pid_file, extra_env=_env(receiver)).ok()
    runtime.start(container_id, extra_env=_env(receiver)).ok()
    assert procs.wait_exit(int(pid_file.read_text())).exit_code == 3
    assert receiver.pending() == []
    runtime.delete(container_id).ok()


def test_run_detached_relays_ready(runtime, notify_bundle, container_id, receiver):
    notify_bundle.sh(f'{SENDER_NAME} "$NOTIFY_SOCKET" "READY=1"; sleep 100')
    pid_file = runtime.io_dir / "init.pid"
    runtime.run(container_id, notify_bundle, "--detach", "--pid-file", pid_file,
                extra_env=_env(receiver)).ok()
    assert receiver.pending() == [b"READY=1\n", f"MAINPID={int(pid_file.read_text())}\n".encode()]
    runtime.delete(container_id, force=True).ok()


def test_run_foreground_relays_ready_and_keeps_exit_code(runtime, notify_bundle, container_id, receiver):
    notify_bundle.sh(f'{SENDER_NAME} "$NOTIFY_SOCKET" "READY=1"; exit 4')
    result = runtime.run(container_id, notify_bundle, extra_env=_env(receiver))
    assert result.returncode == 4, result.describe()
    messages = receiver.pending()
    assert messages[0] == b"READY=1\n" and messages[1].startswith(b"MAINPID="), messages


def test_no_notify_socket_no_mount_no_env(runtime, bundle, container_id):
    bundle.sh('test -z "$NOTIFY_SOCKET" && ! grep -q " /run/notify " /proc/self/mountinfo && echo clean')
    result = runtime.run(container_id, bundle, extra_env={"NOTIFY_SOCKET": ""})
    assert result.returncode == 0, result.describe()
    assert result.stdout_text() == "clean\n"
