"""SCMP_ACT_NOTIFY with linux.seccomp.listenerPath: a seccomp agent (a thread of the test)
gets one connection per container process carrying the ContainerProcessState JSON and the
listener fd, and answers the intercepted mkdir with EXFULL; the container's own output shows
the agent's answer. Both the init (create/start, run) and exec'd processes are covered."""

from __future__ import annotations

import errno
import json
import os
import select
import socket
import tempfile
import threading
from pathlib import Path

import pytest
from helpers import procs
from helpers.containers import create

from ociruntime.linux import seccomp as scmp

EXFULL_TEXT = os.strerror(errno.EXFULL)  # "Exchange full": no real mkdir fails like that
METADATA = "MKDIR=exfull;test=notify"
MKDIR_AND_REPORT = "mkdir /notified 2>&1; echo rc=$?; test -d /notified || echo absent"


class Agent:
    """Accepts connections on a unix socket; each brings one message (JSON + SCM_RIGHTS).
    Every notified syscall is answered with EXFULL until the listener hangs up."""

    def __init__(self) -> None:
        # Its own short dir: sun_path holds 108 bytes, test dirs are long.
        self.path = Path(tempfile.mkdtemp(prefix="oct-agent-", dir="/tmp")) / "agent.sock"
        self.messages: list[dict] = []
        self.fd_counts: list[int] = []
        self.answered = 0
        self._stop = threading.Event()
        self._servers: list[threading.Thread] = []
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.bind(str(self.path))
        self._sock.listen(4)
        self._sock.settimeout(0.1)
        self._acceptor = threading.Thread(target=self._accept_loop)
        self._acceptor.start()

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            with conn:
                payload, fds, _, _ = socket.recv_fds(conn, 65536, 4)
                self.messages.append(json.loads(payload))
                self.fd_counts.append(len(fds))
            for extra in fds[1:]:
                os.close(extra)
            if fds:
                server = threading.Thread(target=self._serve, args=(fds[0],))
                server.start()
                self._servers.append(server)

    def _serve(self, listener: int) -> None:
        poller = select.poll()
        poller.register(listener, select.POLLIN)
        try:
            while not self._stop.is_set():
                for _fd, events in poller.poll(100):
                    if events & select.POLLIN:
                        try:
                            note = scmp.notify_receive(listener)
                            scmp.notify_respond(listener, note.id, error=errno.EXFULL)
                            self.answered += 1
                        except OSError:  # the process died between poll and receive
                            pass
                    elif events & (select.POLLHUP | select.POLLERR):
                        return  # every process using this filter is gone
        finally:
            os.close(listener)

    def close(self) -> None:
        self._stop.set()
        self._acceptor.join(10)
        for server in self._servers:
            server.join(10)
        self._sock.close()
        self.path.unlink(missing_ok=True)
        self.path.parent.rmdir()


@pytest.fixture
def agent():
    agent = Agent()
    yield agent
    agent.close()


def notify_profile(listener_path: Path | None, metadata: str | None = METADATA) -> dict:
    profile: dict = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}],
    }
    if listener_path is not None:
        profile["listenerPath"] = str(listener_path)
    if metadata is not None:
        profile["listenerMetadata"] = metadata
    return profile


def held_fds(pid: int) -> list[str]:
    fd_dir = f"/proc/{pid}/fd"
    return [os.readlink(f"{fd_dir}/{name}") for name in os.listdir(fd_dir)]


def finish(runtime, cid: str, pid: int) -> None:
    runtime.kill(cid, "KILL")
    procs.wait_exit(pid)
    runtime.delete(cid, force=True).ok()


def test_start_and_exec_hand_their_listeners_to_the_agent(runtime, bundle, container_id, agent):
    bundle.linux["seccomp"] = notify_profile(agent.path)
    bundle.sh(MKDIR_AND_REPORT + "; echo ready; while :; do sleep 100 & wait $!; done")
    created = create(runtime, bundle, container_id)
    try:
        if not runtime.is_runc:  # ours loads the filter at start, right before execve; runc at create
            assert agent.messages == []
        runtime.start(container_id).ok()
        out = created.wait_output("ready")
        assert EXFULL_TEXT in out and "rc=1" in out and "absent" in out, out
        assert agent.fd_counts == [1]
        message = agent.messages[0]
        assert message["fds"] == ["seccompFd"]
        assert message["pid"] == created.pid
        assert message["metadata"] == METADATA
        assert message["ociVersion"]
        state = message["state"]
        assert (state["id"], state["pid"]) == (container_id, created.pid)
        # the status when the listener is handed over: at start for us, at create for runc
        assert state["status"] == ("creating" if runtime.is_runc else "running")
        assert state["bundle"] == str(bundle.path)
        # The container keeps neither the listener nor the socket it was sent over.
        assert not any("seccomp" in link or link.startswith("socket:") for link in held_fds(created.pid))

        result = runtime.call("exec", container_id, "sh", "-c", MKDIR_AND_REPORT).ok()
        assert EXFULL_TEXT in result.stdout_text() and "absent" in result.stdout_text(), result.describe()
        assert agent.fd_counts == [1, 1]
        exec_message = agent.messages[1]
        assert exec_message["pid"] not in (0, created.pid)  # the exec'd process
        assert exec_message["state"]["id"] == container_id
        assert exec_message["state"]["pid"] == created.pid
        assert agent.answered == 2
    finally:
        finish(runtime, container_id, created.pid)


def test_run_in_the_foreground_gets_the_agents_answer(runtime, bundle, container_id, agent):
    bundle.linux["seccomp"] = notify_profile(agent.path, metadata=None)
    bundle.sh(MKDIR_AND_REPORT)
    result = runtime.run(container_id, bundle).ok()
    assert EXFULL_TEXT in result.stdout_text() and "rc=1" in result.stdout_text(), result.describe()
    assert len(agent.messages) == 1 and "metadata" not in agent.messages[0]
    assert agent.messages[0]["state"]["id"] == container_id


@pytest.mark.ours_only  # runc fails too, with its own text
def test_listener_path_without_a_socket_fails_create(runtime, bundle, container_id, test_dir):
    missing = test_dir / "nobody-listens.sock"
    bundle.linux["seccomp"] = notify_profile(missing)
    runtime.create(container_id, bundle).failed(
        f"config.json: linux.seccomp.listenerPath: seccomp agent socket {missing}: No such file or directory")
    assert not runtime.exists(container_id)


@pytest.mark.ours_only
def test_notify_without_listener_path_is_a_config_error(runtime, bundle, container_id):
    bundle.linux["seccomp"] = notify_profile(None, metadata=None)
    runtime.create(container_id, bundle).failed(
        "config.json: linux.seccomp.listenerPath: must be set when a rule uses SCMP_ACT_NOTIFY")
    assert not runtime.exists(container_id)


@pytest.mark.ours_only  # runc hands the listener over at create, so it cannot get here
def test_agent_gone_before_start_fails_start_and_stops_the_container(
        runtime, bundle, container_id, test_dir):
    agent = Agent()
    bundle.linux["seccomp"] = notify_profile(agent.path)
    bundle.sh(MKDIR_AND_REPORT + "; echo after")
    try:
        created = create(runtime, bundle, container_id)
    finally:
        agent.close()
    runtime.start(container_id).failed(
        f"config.json: linux.seccomp.listenerPath: send the seccomp listener to the agent at {agent.path}")
    procs.wait_exit(created.pid)  # killed: it must not run on without its agent
    assert "after" not in created.output()
    assert runtime.status(container_id) == "stopped"
    runtime.delete(container_id).ok()


@pytest.mark.ours_only  # runc 1.1.5's features lacks WAIT_KILLABLE_RECV
def test_features_report_notify_and_flags_that_really_work_together(runtime, bundle, container_id, agent):
    features = json.loads(runtime.call("features", root=False).ok().stdout_text())["linux"]["seccomp"]
    assert "SCMP_ACT_NOTIFY" in features["actions"]
    bundle.linux["seccomp"] = dict(notify_profile(agent.path), flags=features["supportedFlags"])
    bundle.sh(MKDIR_AND_REPORT)
    result = runtime.run(container_id, bundle).ok()
    assert EXFULL_TEXT in result.stdout_text(), result.describe()
    assert len(agent.messages) == 1
