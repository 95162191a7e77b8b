"""kill's signal parsing (runc's parseSignal) on the _signal module: every name the signal
module knows parses to the same number; _signal's non-signal constants do not."""

from __future__ import annotations

import signal

import pytest

from ociruntime.errors import OciError
from ociruntime.lifecycle.signals import parse_signal


@pytest.mark.parametrize("name", sorted(signal.Signals.__members__))
def test_every_signal_name_with_and_without_prefix(name: str) -> None:
    number = int(signal.Signals[name])
    assert parse_signal(name) == number
    assert parse_signal(name[3:].lower()) == number


@pytest.mark.parametrize(("text", "number"), [("9", 9), ("0", 0), ("SIGRTMIN+2", signal.SIGRTMIN + 2),
                                               ("RTMAX-1", signal.SIGRTMAX - 1)])
def test_numbers_and_realtime_offsets(text: str, number: int) -> None:
    assert parse_signal(text) == number


@pytest.mark.parametrize("text", ["SIG_DFL", "SIG_IGN", "SIG_BLOCK", "NSIG", "SIGFOO", "65", "RTMIN+99", "", "-1"])
def test_non_signals_are_refused(text: str) -> None:
    with pytest.raises(OciError):
        parse_signal(text)
