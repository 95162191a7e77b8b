"""Signal names and numbers as `kill` accepts them (runc's parseSignal).

Through the `_signal` C module: `signal` builds its enums at import (~4-5 ms per verb).
"""

from __future__ import annotations

import _signal

from ociruntime.errors import OciError


def parse_signal(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        name = text.upper()
        if not name.startswith("SIG"):
            name = "SIG" + name
        # SIG_DFL, SIG_BLOCK... are constants of _signal, not signals
        sig = getattr(_signal, name, None) if name.isidentifier() and "_" not in name else None
        if not isinstance(sig, int):
            if name.startswith("SIGRTMIN") or name.startswith("SIGRTMAX"):
                return _realtime(name, text)
            raise OciError(f"unknown signal {text!r}", code="usage.invalid") from None
        return int(sig)
    # 0, as runc takes it: no signal, only the check that the process is there
    if not 0 <= number < _signal.NSIG:
        raise OciError(f"unknown signal {text!r}: out of range 0..{_signal.NSIG - 1}", code="usage.invalid")
    return number


def _realtime(name: str, text: str) -> int:
    base, _, offset = name.partition("+") if "+" in name else name.partition("-")
    sign = -1 if "-" in name[8:] else 1
    start = _signal.SIGRTMIN if base == "SIGRTMIN" else _signal.SIGRTMAX
    try:
        value = int(start) + sign * int(offset or 0)
    except ValueError:
        raise OciError(f"unknown signal {text!r}", code="usage.invalid") from None
    if not _signal.SIGRTMIN <= value <= _signal.SIGRTMAX:
        raise OciError(f"unknown signal {text!r}", code="usage.invalid")
    return value
