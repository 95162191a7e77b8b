"""ociruntime create [options] <container-id>"""

from __future__ import annotations

from ociruntime.cli.args import Flag, parse, preserve_fds_option, require_id

CREATE_FLAGS = [
    Flag(("bundle", "b"), takes_value=True, default="."),
    Flag(("pid-file",), takes_value=True),
    Flag(("console-socket",), takes_value=True),
    Flag(("pidfd-socket",), takes_value=True),
    Flag(("no-pivot",)),
    Flag(("no-new-keyring",)),
    Flag(("preserve-fds",), takes_value=True),
]


def create_options(opts, parsed, verb: str, *, detach: bool):  # -> CreateOptions
    from ociruntime.errors import UsageError
    from ociruntime.lifecycle.create import CreateOptions

    import os

    from ociruntime.errors import UnsupportedError

    # Rootless containers (unprivileged caller, delegated cgroups) are not implemented:
    # refuse them clearly instead of half-working.
    if opts.rootless == "true" or (opts.rootless == "auto" and os.geteuid() != 0):
        raise UnsupportedError("rootless mode is not supported: run ociruntime as root "
                               "(--rootless=false or auto)")
    if parsed.options.get("pidfd_socket"):
        raise UsageError("--pidfd-socket is not supported yet")
    preserve = preserve_fds_option(parsed)
    return CreateOptions(
        root=opts.root, container_id=require_id(parsed, verb), bundle=str(parsed.options["bundle"]),
        pid_file=parsed.options["pid_file"], console_socket=parsed.options["console_socket"],
        no_pivot=bool(parsed.options["no_pivot"]), no_new_keyring=bool(parsed.options["no_new_keyring"]),
        preserve_fds=preserve, systemd_cgroup=opts.systemd_cgroup, detach=detach,
    )


def main(opts, argv: list[str]) -> int:
    from ociruntime.lifecycle.create import create

    parsed = parse(argv, CREATE_FLAGS + [Flag(("detach", "d"))])
    create(create_options(opts, parsed, "create", detach=True))
    return 0
