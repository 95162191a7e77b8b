"""process.rlimits: parse and validate (pure), check against the host, apply with prlimit(2)."""

from __future__ import annotations

from ociruntime.errors import ConfigError, KernelError, UnsupportedError
from ociruntime.records import tuple_record
from ociruntime.spec.names import RLIMITS

RLIMIT_NAMES: dict[int, str] = {number: name for name, number in RLIMITS.items()}
RLIM_INFINITY = 2**64 - 1
_UINT64_MAX = 2**64 - 1


@tuple_record
class Rlimit:
    resource: int
    soft: int
    hard: int


def _is_uint64(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _UINT64_MAX


def parse_rlimits(raw: object, *, path: str, file: str = "config.json") -> tuple[Rlimit, ...]:
    """`path` is the JSON path of the rlimits array (e.g. "process.rlimits")."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ConfigError(path, "must be an array", file=file)
    seen: dict[int, int] = {}
    result = []
    for index, entry in enumerate(raw):
        where = f"{path}[{index}]"
        if not isinstance(entry, dict):
            raise ConfigError(where, "must be an object with type, soft and hard", file=file)
        name = entry.get("type")
        number = RLIMITS.get(name) if isinstance(name, str) else None
        if number is None:
            shown = f'"{name}"' if isinstance(name, str) else repr(name)
            raise ConfigError(f"{where}.type", f"{shown} is not a known rlimit type", file=file)
        for key in ("soft", "hard"):
            if not _is_uint64(entry.get(key)):
                raise ConfigError(f"{where}.{key}", f"{entry.get(key)!r} is not an unsigned 64-bit integer",
                                  file=file)
        soft, hard = entry["soft"], entry["hard"]
        if soft > hard:
            raise ConfigError(where, f"{name} soft limit {soft} is greater than the hard limit {hard}",
                              file=file)
        if number in seen:
            raise ConfigError(f"{where}.type", f"{name} is already set by {path}[{seen[number]}]", file=file)
        seen[number] = index
        result.append(Rlimit(number, soft, hard))
    return tuple(result)


def check_host_rlimits(rlimits: tuple[Rlimit, ...], *, can_raise: bool, path: str,
                       file: str = "config.json") -> None:
    """Raising a hard limit needs CAP_SYS_RESOURCE in the initial user namespace.

    Without it (this host's bounding set lacks it) the kernel refuses with EPERM in the
    container init; say which entry and why before anything is created.
    """
    if can_raise or not rlimits:
        return
    from ociruntime.linux.procattr import get_rlimit

    for index, limit in enumerate(rlimits):
        current_hard = get_rlimit(limit.resource)[1]
        if limit.hard > current_hard:
            name = RLIMIT_NAMES[limit.resource]
            raise UnsupportedError(
                f"{file}: {path}[{index}]: cannot raise the {name} hard limit to {limit.hard} "
                f"(the runtime's is {current_hard}): that needs CAP_SYS_RESOURCE, which this "
                "runtime does not have")


def apply_rlimits(rlimits: tuple[Rlimit, ...], *, pid: int = 0, path: str, file: str = "config.json") -> None:
    """prlimit(2) each entry on `pid` (0: this process)."""
    if not rlimits:
        return
    from ociruntime.linux.procattr import set_rlimit

    for index, limit in enumerate(rlimits):
        try:
            set_rlimit(limit.resource, limit.soft, limit.hard, pid=pid)
        except OSError as err:
            name = RLIMIT_NAMES[limit.resource]
            raise KernelError(f"{file}: {path}[{index}]: error setting rlimit type {limit.resource} ({name}): "
                              f"{err.strerror.lower()}", err.errno) from None

