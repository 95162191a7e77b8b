"""The parent <-> container-process message channel.

A SOCK_SEQPACKET socketpair carrying one JSON object per packet. Messages (all have "type"):

  parent -> stage-1 child   {"type": "go", "cgroup": J}    state dir and cgroup made; J is
                                                           CgroupJoin.to_message() or null
  stage-1 -> parent         {"type": "userns"}             new user ns made; write uid/gid maps
  parent -> stage-1         {"type": "maps_done"}
  stage-1 -> parent         {"type": "init_pid", "pid": N} host pid of the container init
  init -> parent            {"type": "mounts_ready"}       rootfs mounted, before pivot_root
  parent -> init            {"type": "hooks_done"}         prestart + createRuntime hooks ran
                                                           (with none: sent right after
                                                           init_pid, ahead of mounts_ready)
  init -> parent            {"type": "ready"}              waiting for `start`
  any child -> parent       {"type": "error", "stage": S, "errno": E, "message": M, "code": C}

EOF on the parent's side before "ready" means a child died without reporting.
"""

from __future__ import annotations

import _socket  # the C module: socket.py builds enums at import (~4 ms on every create)

from ociruntime.errors import OciError
from ociruntime.state import jsonfast  # not json: it imports re (~10 ms per create)

# A message is one packet, and a packet must fit its sender's socket buffer (208 KiB by
# default). The hook state carries the config's annotations, and Kubernetes allows 256 KiB
# of those, so the buffers are raised to this.
MAX_MESSAGE = 4 << 20
_SO_SNDBUFFORCE = 32  # Linux's; _socket does not export it
_PEEK_SIZE = _socket.MSG_PEEK | _socket.MSG_TRUNC  # returns the packet's full length


class Channel:
    def __init__(self, sock: _socket.socket) -> None:
        self.sock = sock
        self._peek = bytearray(1)

    @staticmethod
    def pair() -> tuple["Channel", "Channel"]:
        a, b = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_SEQPACKET)
        for sock in (a, b):
            _raise_send_buffer(sock)
        return Channel(a), Channel(b)

    def send(self, msg_type: str, **fields: object) -> None:
        self.sock.sendall(self.packet(msg_type, **fields))

    @staticmethod
    def packet(msg_type: str, **fields: object) -> bytes:
        """One message as sent (ociruntime-dmz writes a "ready" made here itself)."""
        fields["type"] = msg_type
        return jsonfast.dumps(fields).encode()

    def recv(self) -> dict | None:
        size = self._next_size()
        data = self.sock.recv(size) if size else b""
        if not data:
            return None
        return jsonfast.loads(data)  # type: ignore[return-value]

    def _next_size(self) -> int:
        """The next packet's length, 0 at EOF."""
        try:
            return self.sock.recv_into(self._peek, 1, _PEEK_SIZE)
        except ConnectionResetError:
            # The peer closed with packets of ours unread (one sent ahead of its request):
            # Linux reports that once, before the packets the peer sent earlier, which
            # still come next (an error record, say).
            return self.sock.recv_into(self._peek, 1, _PEEK_SIZE)

    def expect(self, msg_type: str) -> dict:
        """Receive one message of the given type; an error record or EOF raises."""
        msg = self.recv()
        if msg is None:
            raise OciError(f"container process exited before sending {msg_type}")
        if msg.get("type") == "error":
            raise error_from_record(msg)
        if msg.get("type") != msg_type:
            raise OciError(f"protocol error: expected {msg_type}, got {msg.get('type')}")
        return msg

    def fileno(self) -> int:
        return self.sock.fileno()

    def close(self) -> None:
        self.sock.close()


def _raise_send_buffer(sock: _socket.socket) -> None:
    try:
        sock.setsockopt(_socket.SOL_SOCKET, _SO_SNDBUFFORCE, MAX_MESSAGE)
    except PermissionError:  # without CAP_NET_ADMIN: up to net.core.wmem_max
        sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_SNDBUF, MAX_MESSAGE)


def error_from_record(msg: dict) -> OciError:
    err = OciError(str(msg.get("message", "unknown error in container process")))
    if msg.get("code"):
        err.code = str(msg["code"])
    return err


def error_record(stage: str, exc: BaseException) -> dict:
    if isinstance(exc, OciError):
        return {"stage": stage, "errno": getattr(exc, "errno", 0), "message": exc.message, "code": exc.code}
    if isinstance(exc, OSError):
        text = str(exc) if exc.filename is None and exc.strerror is None else (
            f"{exc.strerror}: {exc.filename}" if exc.filename else str(exc.strerror or exc))
        return {"stage": stage, "errno": exc.errno or 0, "message": f"{stage}: {text}", "code": "kernel.error"}
    return {"stage": stage, "errno": 0, "message": f"{stage}: {type(exc).__name__}: {exc}",
            "code": "runtime.error"}
