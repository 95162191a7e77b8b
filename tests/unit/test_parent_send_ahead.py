"""process/parent.py sends "hooks_done" ahead of "mounts_ready" when no runtime-namespace
hook has to run: a child that died meanwhile must still be reported by its own error."""

from __future__ import annotations

import pytest

from ociruntime.errors import OciError
from ociruntime.process.channel import Channel
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


def test_a_dead_child_is_reported_by_its_error_not_by_the_send() -> None:
    parent, child = Channel.pair()
    try:
        child.send("error", stage="init", errno=2, message="mount /proc: No such file or directory",
                   code="kernel.error")
        child.close()
        _send_ahead(parent, "hooks_done", state={})  # EPIPE: the child is gone
        with pytest.raises(OciError, match="mount /proc: No such file or directory"):
            parent.expect("mounts_ready")
    finally:
        parent.close()


def test_a_child_gone_without_a_word_is_reported_as_such() -> None:
    parent, child = Channel.pair()
    child.close()
    try:
        _send_ahead(parent, "hooks_done", state={})
        with pytest.raises(OciError, match="exited before sending mounts_ready"):
            parent.expect("mounts_ready")
    finally:
        parent.close()
