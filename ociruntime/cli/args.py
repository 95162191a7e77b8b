"""A small runc-compatible command-line parser.

urfave/cli (runc's parser) accepts `--flag value`, `--flag=value`, Go-style single-dash long
flags (`-no-subreaper`), short aliases (`-f`), and `--bool=true|false`. argparse does not
accept all of these, and it costs import time, so we parse by hand from a table.
"""

from __future__ import annotations

from ociruntime.errors import UsageError


class Flag:
    """One flag: names without dashes (the first is canonical), whether it takes a value.
    (Plain classes here: importing dataclasses costs ~15 ms on every verb.)"""

    __slots__ = ("names", "takes_value", "default", "repeat")

    def __init__(self, names: tuple[str, ...], takes_value: bool = False, default: object = None,
                 repeat: bool = False) -> None:
        self.names = names
        self.takes_value = takes_value
        self.default = default
        self.repeat = repeat  # value flags that may be given several times (e.g. --env)

    @property
    def key(self) -> str:
        return self.names[0].replace("-", "_")


class Parsed:
    __slots__ = ("options", "positionals")

    def __init__(self, options: dict[str, object] | None = None) -> None:
        self.options: dict[str, object] = options if options is not None else {}
        self.positionals: list[str] = []


_TRUE = {"true", "1", "t", "yes"}
_FALSE = {"false", "0", "f", "no"}


def _bool_value(flag: str, text: str) -> bool:
    lowered = text.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise UsageError(f'invalid boolean value "{text}" for flag -{flag}')


def parse(argv: list[str], flags: list[Flag], *, stop_at_positional: int = 0,
          interspersed: bool = True) -> Parsed:
    """Parse argv against the flag table.

    stop_at_positional: after this many positionals, everything else is positional
    (runc's StopOnNthArg for `kill` and `exec`). interspersed=False stops at the first
    positional (used for the global flags before the verb).
    """
    by_name = {name: f for f in flags for name in f.names}
    result = Parsed(options={f.key: ([] if f.repeat else f.default) for f in flags})
    i = 0
    while i < len(argv):
        arg = argv[i]
        stop_now = (stop_at_positional and len(result.positionals) >= stop_at_positional)
        if arg == "--":
            result.positionals.extend(argv[i + 1:])
            break
        if stop_now or not arg.startswith("-") or arg == "-":
            result.positionals.append(arg)
            if not interspersed:
                result.positionals.extend(argv[i + 1:])
                break
            i += 1
            continue
        name, has_eq, inline = arg.lstrip("-").partition("=")
        flag = by_name.get(name)
        if flag is None:
            raise UsageError(f"flag provided but not defined: {arg.split('=')[0]}")
        if flag.takes_value:
            if has_eq:
                value = inline
            else:
                if i + 1 >= len(argv):
                    raise UsageError(f"flag needs an argument: {arg}")
                i += 1
                value = argv[i]
            if flag.repeat:
                result.options[flag.key].append(value)  # type: ignore[union-attr]
            else:
                result.options[flag.key] = value
        else:
            result.options[flag.key] = _bool_value(name, inline) if has_eq else True
        i += 1
    return result


def int_option(parsed: Parsed, key: str, flag: str) -> int:
    value = parsed.options.get(key)
    if value is None:
        return 0
    try:
        return int(str(value))
    except ValueError:
        raise UsageError(f'invalid value "{value}" for flag --{flag}: parse error') from None


def preserve_fds_option(parsed: Parsed) -> int:
    """--preserve-fds N: fds 3..N+2 pass to the process, so each must be open (runc stats
    them too: a closed one would silently not arrive)."""
    count = int_option(parsed, "preserve_fds", "preserve-fds")
    if count < 0:
        raise UsageError("--preserve-fds must not be negative")
    import posix

    for index in range(count):
        try:
            posix.fstat(3 + index)
        except OSError as err:
            raise UsageError(f"unable to stat preserved-fd {index} (of {count}): {err.strerror}") from None
    return count


def require_no_args(parsed: Parsed, verb: str) -> None:
    """runc's checkArgs(context, 0, exactArgs) for list, features, ..."""
    if parsed.positionals:
        raise UsageError(f'"{verb}" requires exactly 0 argument(s), got "{parsed.positionals[0]}"')


def require_id(parsed: Parsed, verb: str, *, exact: bool = True) -> str:
    """runc's checkArgs: most verbs take exactly one argument, the container id."""
    if not parsed.positionals:
        raise UsageError(f'"{verb}" requires a container id')
    if exact and len(parsed.positionals) > 1:
        raise UsageError(f'"{verb}" requires exactly 1 argument(s)')
    return parsed.positionals[0]
