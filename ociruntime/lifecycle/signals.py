"""Signal names and numbers as `kill` accepts them (runc's parseSignal)."""

from __future__ import annotations

import signal

from ociruntime.errors import OciError


def parse_signal(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        name = text.upper()
        if not name.startswith("SIG"):
            name = "SIG" + name
        sig = getattr(signal.Signals, name, None) if name.isidentifier() else None
        if sig is None:
            if name.startswith("SIGRTMIN") or name.startswith("SIGRTMAX"):
                return _realtime(name, text)
            raise OciError(f"unknown signal {text!r}", code="usage.invalid") from None
        return int(sig)
    if not 0 < number < signal.NSIG:
        raise OciError(f"unknown signal {text!r}: out of range 1..{signal.NSIG - 1}", code="usage.invalid")
    return number


def _realtime(name: str, text: str) -> int:
    base, _, offset = name.partition("+") if "+" in name else name.partition("-")
    sign = -1 if "-" in name[8:] else 1
    start = signal.SIGRTMIN if base == "SIGRTMIN" else signal.SIGRTMAX
    try:
        value = int(start) + sign * int(offset or 0)
    except ValueError:
        raise OciError(f"unknown signal {text!r}", code="usage.invalid") from None
    if not signal.SIGRTMIN <= value <= signal.SIGRTMAX:
        raise OciError(f"unknown signal {text!r}", code="usage.invalid")
    return value
