"""security.seccomp.send_to_agent: the ContainerProcessState message of the spec."""

from __future__ import annotations

import json
import os
import socket
import threading
from pathlib import Path

import pytest

from ociruntime.security.seccomp import SeccompProgram, send_to_agent


def _program(path: Path, metadata: str = "") -> SeccompProgram:
    return SeccompProgram(
        bpf=b"", flags=0, listener_path=str(path), listener_metadata=metadata, needs_listener=True
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
    state = {"ociVersion": "1.3.0", "id": "c1", "status": "creating", "pid": 42, "bundle": "/b"}
    try:
        send_to_agent(_program(sock_path, "meta-data"), read_end, 42, state, "1.3.0")
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
        "ociVersion": "1.3.0",
        "fds": ["seccompFd"],
        "pid": 42,
        "metadata": "meta-data",
        "state": state,
    }


def test_metadata_is_omitted_when_empty(tmp_path: Path) -> None:
    sock_path = tmp_path / "agent.sock"
    received: list = []
    thread = _serve_once(sock_path, received)
    read_end, write_end = os.pipe()
    try:
        send_to_agent(_program(sock_path), read_end, 7, {"id": "c2"}, "1.3.0")
        thread.join(10)
    finally:
        os.close(read_end)
        os.close(write_end)
    payload, fds, _, _ = received[0]
    for fd in fds:
        os.close(fd)
    assert "metadata" not in json.loads(payload)


def test_unreachable_agent_is_an_error_naming_the_path(tmp_path: Path) -> None:
    sock_path = tmp_path / "nobody-listens.sock"
    with pytest.raises(FileNotFoundError) as info:
        send_to_agent(_program(sock_path), 0, 1, {}, "1.3.0")
    assert str(info.value).endswith(f"send seccomp listener to the agent at {sock_path}: No such file or directory")
