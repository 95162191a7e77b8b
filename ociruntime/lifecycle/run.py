"""`run`: create + start, then (unless detached) wait for the init, forwarding signals, and
delete the container. The exit status is the process's, 128+signal when it was killed."""

from __future__ import annotations

import _signal as signal  # the C module: signal.py builds enums at import (~5 ms per run)
import os

from ociruntime.lifecycle.create import CreateOptions, create, create_container
from ociruntime.lifecycle.foreground import exit_code, forward_signals, wait_for
from ociruntime.state.store import ContainerDir

# Signals runc forwards to the container; SIGCHLD is ours, SIGWINCH belongs to a tty.
def run(opts: CreateOptions, *, keep: bool = False) -> int:
    if opts.detach:
        create(opts)
        from ociruntime.lifecycle.start import start

        start(opts.root, opts.container_id)
        return 0
    from ociruntime.linux.procattr import set_child_subreaper

    # The init is forked by our child: as a subreaper we get it back and can wait for it.
    set_child_subreaper()
    created = create_container(opts)
    init_pid = created.init_pid
    forwarded = forward_signals(init_pid)
    host_terminal = None
    try:
        from ociruntime.lifecycle.start import start

        if created.console_master >= 0:  # terminal: proxy the pty to our stdio (runc run -t)
            from ociruntime.console.proxy import HostTerminal

            host_terminal = HostTerminal(created.console_master)
        relay = start(opts.root, opts.container_id, relay_notify=False)
        # The container runs: `state`, `kill`, `exec`, `delete` from others must not wait for
        # its exit behind our lock (runc holds none while it waits).
        ContainerDir(opts.root, opts.container_id).unlock()
        relay_thread = None
        if relay is not None:  # NOTIFY_SOCKET: relay READY while we wait for the exit
            from ociruntime.lifecycle.notify_socket import relay_in_background

            relay_thread = relay_in_background(relay, init_pid)
        if host_terminal is not None:
            host_terminal.proxy(init_pid)
        status = wait_for(init_pid)
        if relay_thread is not None:
            relay_thread.join()  # the init is gone: it only drains what the container sent
    except BaseException:
        _remove(opts.root, opts.container_id)
        raise
    finally:
        for sig in forwarded:
            signal.signal(sig, signal.SIG_DFL)
        if host_terminal is not None:
            host_terminal.close()
        if created.console_master >= 0:
            os.close(created.console_master)
    if not keep:
        _remove(opts.root, opts.container_id)
    return exit_code(status)


def _remove(root: str, container_id: str) -> None:
    from ociruntime.errors import ContainerNotFound
    from ociruntime.lifecycle.delete import delete

    try:
        delete(root, container_id, force=True)
    except ContainerNotFound:
        pass  # deleted by another caller while we waited for the process
