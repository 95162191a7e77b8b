"""Command line entry: global flags, then one verb module (imported lazily), then exit code."""

from __future__ import annotations

import sys

from ociruntime.cli.args import Flag, parse
from ociruntime.errors import OciError, UsageError

DEFAULT_ROOT = "/run/ociruntime"

GLOBAL_FLAGS = [
    Flag(("root",), takes_value=True, default=DEFAULT_ROOT),
    Flag(("log",), takes_value=True, default=None),
    Flag(("log-format",), takes_value=True, default="text"),
    Flag(("debug",)),
    Flag(("systemd-cgroup",)),
    Flag(("rootless",), takes_value=True, default="auto"),
    Flag(("criu",), takes_value=True, default="criu"),
    Flag(("version", "v")),
    Flag(("help", "h")),
]

# verb -> module under ociruntime.cli (one module per verb, imported only when used)
VERBS = {
    "create": "create", "start": "start", "state": "state", "kill": "kill", "delete": "delete",
    "run": "run", "list": "list_", "spec": "spec", "features": "features", "exec": "exec",
    "update": "update", "pause": "pause", "resume": "resume", "ps": "ps", "events": "events",
}


class GlobalOptions:
    """The global flags (a plain class: dataclasses costs ~15 ms of imports per verb)."""

    __slots__ = ("root", "log", "log_format", "debug", "systemd_cgroup", "rootless")

    def __init__(self, root: str, log: str | None, log_format: str, debug: bool,
                 systemd_cgroup: bool, rootless: str) -> None:
        self.root = root
        self.log = log
        self.log_format = log_format
        self.debug = debug
        self.systemd_cgroup = systemd_cgroup
        self.rootless = rootless


def _usage() -> str:
    verbs = ", ".join(sorted(VERBS))
    return f"usage: ociruntime [global options] <command> [command options] [arguments...]\ncommands: {verbs}\n"


def _version_text() -> str:
    from ociruntime import SPEC_VERSION, __version__
    return f"ociruntime version {__version__}\nspec: {SPEC_VERSION}\n"


def _parse_globals(argv: list[str]) -> tuple[GlobalOptions, list[str], bool, bool]:
    parsed = parse(argv, GLOBAL_FLAGS, interspersed=False)
    o = parsed.options
    log_format = str(o["log_format"])
    if log_format not in ("text", "json"):
        raise UsageError(f'invalid log-format: "{log_format}" (use text or json)')
    rootless = str(o["rootless"])
    if rootless not in ("auto", "true", "false"):
        raise UsageError(f'invalid --rootless value "{rootless}" (use true, false or auto)')
    opts = GlobalOptions(
        root=str(o["root"]), log=o["log"] or None, log_format=log_format,  # type: ignore[arg-type]
        debug=bool(o["debug"]), systemd_cgroup=bool(o["systemd_cgroup"]), rootless=rootless,
    )
    return opts, parsed.positionals, bool(o["version"]), bool(o["help"])


def main(argv: list[str] | None = None) -> None:
    code = run_cli(sys.argv[1:] if argv is None else argv)
    exit_now(code)


def exit_now(code: int) -> None:
    """Flush stdio and _exit, skipping the interpreter's teardown (every module dict and
    object freed one by one: 2-5 ms per verb here, measured). Nothing of ours needs it:
    files are closed by their with-blocks and the log writes unbuffered to its fd."""
    import posix  # not os: ~1 ms to import (ociruntime/posixlite.py)

    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: what Python's own exit reports
            code = 120
    posix._exit(code)


def run_cli(argv: list[str]) -> int:
    from ociruntime import log

    try:
        opts, rest, want_version, want_help = _parse_globals(argv)
    except OciError as err:
        log.logger.error(str(err))
        return 1
    logger = log.configure(opts.log, opts.log_format, opts.debug)
    if want_version:
        sys.stdout.write(_version_text())
        return 0
    if want_help or not rest:
        sys.stdout.write(_usage())
        return 0 if want_help else 1
    verb, verb_args = rest[0], rest[1:]
    module_name = VERBS.get(verb)
    if module_name is None:
        logger.error(f"No help topic for '{verb}'" if verb == "help" else f"command {verb} not found")
        return 1
    # __import__ + sys.modules, not importlib.import_module: the importlib package imports
    # warnings (~0.6 ms on every verb).
    name = f"ociruntime.cli.{module_name}"
    __import__(name)
    module = sys.modules[name]
    try:
        return int(module.main(opts, verb_args))
    except OciError as err:
        logger.error(err.message, err.code)
        return getattr(module, "ERROR_EXIT", 1)
    except KeyboardInterrupt:
        return 130
