"""process/parent.py sends "hooks_done" ahead of "mounts_ready" when no runtime-namespace
hook has to run: a child that died meanwhile must still be reported by its own error. And
process/channel.py carries messages far larger than a socket buffer's default."""

from __future__ import annotations

import pytest

from ociruntime.errors import OciError
from ociruntime.process.channel import MAX_MESSAGE, Channel
from ociruntime.process.parent import _send_ahead


def test_a_message_sent_ahead_waits_for_the_child() -> None:
    parent, child = Channel.pair()
    try:
        _send_ahead(parent, "hooks_done", state={"pid": 42})
        child.send("mounts_ready")
        assert parent.expect("mounts_ready") == {"type": "mounts_ready"}
        assert child.expect("hooks_done") == {"type": "hooks_done", "state": {"pid": 42}}
    finally:
        parent.close()
        child.close()


LAST_WORDS = {"stage": "init", "errno": 5, "message": "mount /sys: Input/output error", "code": "kernel.error"}


@pytest.mark.parametrize("sent_while_alive", [False, True], ids=["sent after its death", "sent before"])
@pytest.mark.parametrize("last_words", [LAST_WORDS, None], ids=["error record", "silent"])
def test_a_dead_child_is_reported_by_what_it_sent(sent_while_alive: bool, last_words: dict | None) -> None:
    """Sent after the child's death, the message fails with EPIPE (swallowed). Sent before and
    left unread, Linux answers the parent's next recv with ECONNRESET, ahead of the record
    the child sent before dying: either way the record (or the EOF) is what is reported."""
    parent, child = Channel.pair()
    try:
        if sent_while_alive:
            _send_ahead(parent, "hooks_done", state={})  # queued, never read
        if last_words is not None:
            child.send("error", **last_words)
        child.close()
        if not sent_while_alive:
            _send_ahead(parent, "hooks_done", state={})
        expected = last_words["message"] if last_words else "exited before sending mounts_ready"
        with pytest.raises(OciError, match=expected):
            parent.expect("mounts_ready")
    finally:
        parent.close()


def test_a_message_too_long_is_raised_not_swallowed() -> None:
    """Swallowed, the child would wait for "hooks_done" forever."""
    parent, child = Channel.pair()
    try:
        with pytest.raises(OSError):
            _send_ahead(parent, "hooks_done", state={"annotations": {"big": "x" * (2 * MAX_MESSAGE)}})
    finally:
        parent.close()
        child.close()


def test_messages_far_above_the_default_socket_buffer_arrive_whole() -> None:
    """The hook state carries the annotations; Kubernetes allows 256 KiB of them, and the
    default send buffer (208 KiB) would refuse such a packet or a 64 KiB read cut it."""
    parent, child = Channel.pair()
    try:
        annotations = {f"k8s.io/key{i}": "v" * 1000 for i in range(1000)}  # ~1 MB
        parent.send("hooks_done", state={"annotations": annotations})
        assert child.expect("hooks_done")["state"]["annotations"] == annotations
    finally:
        parent.close()
        child.close()
