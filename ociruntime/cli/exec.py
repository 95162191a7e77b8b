"""ociruntime exec [options] <container-id> [command [args...]]"""

from __future__ import annotations

from ociruntime.cli.args import Flag, parse, preserve_fds_option
from ociruntime.errors import UsageError

# runc exits 255 when exec itself fails (the process's own status is passed through).
ERROR_EXIT = 255

EXEC_FLAGS = [
    Flag(("console-socket",), takes_value=True),
    Flag(("pidfd-socket",), takes_value=True),
    Flag(("cwd",), takes_value=True),
    Flag(("env", "e"), takes_value=True, repeat=True),
    Flag(("tty", "t")),
    Flag(("user", "u"), takes_value=True),
    Flag(("additional-gids", "g"), takes_value=True, repeat=True),
    Flag(("process", "p"), takes_value=True),
    Flag(("detach", "d")),
    Flag(("pid-file",), takes_value=True),
    Flag(("process-label",), takes_value=True),
    Flag(("apparmor",), takes_value=True),
    Flag(("no-new-privs",)),
    Flag(("cap", "c"), takes_value=True, repeat=True),
    Flag(("preserve-fds",), takes_value=True),
    Flag(("ignore-paused",)),
    Flag(("cgroup",), takes_value=True, repeat=True),
]


def main(opts, argv: list[str]) -> int:
    from ociruntime.lifecycle.exec import ExecOptions, exec_process

    parsed = parse(argv, EXEC_FLAGS, stop_at_positional=1)
    o = parsed.options
    if not parsed.positionals:
        raise UsageError('"exec" requires a minimum of 1 argument')
    if o["pidfd_socket"] or o["cgroup"]:
        raise UsageError("--pidfd-socket and --cgroup are not supported yet")
    process = None
    if o["process"]:
        from ociruntime.spec.load import load_process

        process = load_process(str(o["process"]))
    try:
        gids = [int(g) for value in o["additional_gids"] for g in str(value).split(",") if g]
    except ValueError:
        raise UsageError("--additional-gids takes numbers") from None
    return exec_process(ExecOptions(
        root=opts.root, container_id=parsed.positionals[0], process=process,
        args=parsed.positionals[1:], env=list(o["env"]), cwd=o["cwd"], user=o["user"],
        additional_gids=gids, caps=list(o["cap"]), no_new_privs=bool(o["no_new_privs"]),
        tty=bool(o["tty"]), apparmor=o["apparmor"], process_label=o["process_label"],
        detach=bool(o["detach"]), pid_file=o["pid_file"], console_socket=o["console_socket"],
        preserve_fds=preserve_fds_option(parsed),
        ignore_paused=bool(o["ignore_paused"]),
    ))
