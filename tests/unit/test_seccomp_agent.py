"""security.seccomp_agent: the ContainerProcessState message of the spec, the create-time
socket check, and the init <-> start rendezvous socket in the state dir."""

from __future__ import annotations

import json
import os
import socket
import threading
from pathlib import Path

import pytest

from ociruntime import SPEC_VERSION
from ociruntime.errors import ConfigError, OciError
from ociruntime.security.seccomp_agent import (
    SOCKET_NAME,
    AgentTarget,
    accept_runtime,
    check_agent_socket,
    connect_to_init,
    listen_in_state_dir,
    send_to_agent,
    target_from_config,
)


def _serve_once(path: Path, received: list) -> threading.Thread:
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(1)

    def accept() -> None:
        with server:
            conn, _ = server.accept()
            with conn:
                received.append(socket.recv_fds(conn, 65536, 4))

    thread = threading.Thread(target=accept)
    thread.start()
    return thread


def test_agent_gets_the_state_json_and_exactly_one_fd(tmp_path: Path) -> None:
    sock_path = tmp_path / "agent.sock"
    received: list = []
    thread = _serve_once(sock_path, received)
    read_end, write_end = os.pipe()  # any fd stands in for the listener here
    state = {"ociVersion": "1.0.2", "id": "c1", "status": "running", "pid": 42, "bundle": "/b"}
    try:
        send_to_agent(AgentTarget(str(sock_path), "meta-data"), read_end, 43, state)
        thread.join(10)
        payload, fds, _, _ = received[0]
        assert len(fds) == 1
        os.write(write_end, b"ping")
        assert os.read(fds[0], 4) == b"ping"  # the very same pipe
        os.close(fds[0])
    finally:
        os.close(read_end)
        os.close(write_end)
    assert json.loads(payload) == {
        "ociVersion": SPEC_VERSION,
        "fds": ["seccompFd"],
        "pid": 43,
        "metadata": "meta-data",
        "state": state,
    }


def test_metadata_is_omitted_when_empty(tmp_path: Path) -> None:
    sock_path = tmp_path / "agent.sock"
    received: list = []
    thread = _serve_once(sock_path, received)
    read_end, write_end = os.pipe()
    try:
        send_to_agent(AgentTarget(str(sock_path)), read_end, 7, {"id": "c2"})
        thread.join(10)
    finally:
        os.close(read_end)
        os.close(write_end)
    payload, fds, _, _ = received[0]
    for fd in fds:
        os.close(fd)
    assert "metadata" not in json.loads(payload)


def test_unreachable_agent_is_an_error_naming_the_field_and_path(tmp_path: Path) -> None:
    sock_path = tmp_path / "nobody-listens.sock"
    with pytest.raises(OciError) as info:
        send_to_agent(AgentTarget(str(sock_path)), 0, 1, {})
    assert str(info.value) == (
        f"config.json: linux.seccomp.listenerPath: send the seccomp listener to the agent at "
        f"{sock_path}: No such file or directory"
    )


def test_target_only_when_a_rule_notifies() -> None:
    base = {"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/run/a.sock", "listenerMetadata": "m"}
    allow = {"linux": {"seccomp": dict(base, syscalls=[{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}])}}
    notify = {"linux": {"seccomp": dict(base, syscalls=[{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}])}}
    assert target_from_config({}) is None
    assert target_from_config(allow) is None
    target = target_from_config(notify)
    assert target is not None and (target.path, target.metadata) == ("/run/a.sock", "m")


def test_check_agent_socket_names_the_field(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        check_agent_socket(str(tmp_path / "missing.sock"))
    assert str(info.value) == (
        f"config.json: linux.seccomp.listenerPath: seccomp agent socket {tmp_path}/missing.sock: "
        "No such file or directory"
    )
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError, match="not a unix socket"):
        check_agent_socket(str(tmp_path / "file"))
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(tmp_path / "ok.sock"))
        check_agent_socket(str(tmp_path / "ok.sock"))


def test_rendezvous_works_with_a_state_dir_longer_than_sun_path(tmp_path: Path) -> None:
    state_dir = tmp_path / ("d" * 200)
    state_dir.mkdir()
    listening = listen_in_state_dir(str(state_dir))
    assert (state_dir / SOCKET_NAME).stat().st_mode & 0o777 == 0o600
    with connect_to_init(str(state_dir)) as runtime:
        fd = accept_runtime(listening)
        try:
            assert listening.fileno() == -1  # the listening socket is closed once accepted
            os.write(fd, b"x")
            assert runtime.recv(1) == b"x"
        finally:
            os.close(fd)


def test_accept_without_a_waiting_runtime_fails_instead_of_blocking(tmp_path: Path) -> None:
    listening = listen_in_state_dir(str(tmp_path))
    with pytest.raises(OciError, match="no runtime connected"):
        accept_runtime(listening)
    with pytest.raises(OciError, match="connect to the container init"):
        connect_to_init(str(tmp_path))  # nobody listens any more
