"""ociruntime kill [--all] <container-id> [signal]"""

from __future__ import annotations

from ociruntime.cli.args import Flag, parse
from ociruntime.errors import UsageError


def main(opts, argv: list[str]) -> int:
    from ociruntime.lifecycle.kill import kill
    from ociruntime.lifecycle.signals import parse_signal

    parsed = parse(argv, [Flag(("all", "a"))], stop_at_positional=1)
    args = parsed.positionals
    if not 1 <= len(args) <= 2:
        raise UsageError('"kill" requires a minimum of 1 and a maximum of 2 arguments')
    signal = parse_signal(args[1] if len(args) == 2 else "SIGTERM")
    kill(opts.root, args[0], signal, all_processes=bool(parsed.options["all"]))
    return 0
