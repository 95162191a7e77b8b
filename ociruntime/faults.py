"""Test-only fault injection: die (or hang) at a named stage of `create`, `start` or `exec`.

``OCIRUNTIME_FAULT=<stage>`` or ``<stage>:kill`` makes the process that reaches
``point(<stage>)`` die at once by SIGKILL, with no cleanup of any kind, as an OOM kill or a
power cut would; ``<stage>:pause`` makes it hang there until someone kills it. The tests in
tests/faults use this to prove that `delete --force` removes whatever a crash leaves behind.

Stages: after_state_dir, after_cgroup, after_state_written (runtime), stage1_after_namespaces
(stage-1 child), init_after_mounts, before_ready, init_before_execve (container init; the
last one before it execs the trampoline: during `create` when the trampoline waits for
`start`, after `start` otherwise), before_pid_file, after_pid_file (runtime), exec_before_execve (the
exec'd process, after its credentials are set). The environment is read once, at import: with the variable unset a
point costs one comparison.
"""

from __future__ import annotations

import os

_FAULT = os.environ.get("OCIRUNTIME_FAULT") or None


def point(name: str) -> None:
    if _FAULT is None:
        return
    stage, _, action = _FAULT.partition(":")
    if stage == name:
        _trigger(action or "kill")


def _trigger(action: str) -> None:
    import _signal as signal  # the C module: `signal` is not preloaded for the init
    import time

    if action == "pause":
        while True:
            time.sleep(3600)
    os.kill(os.getpid(), signal.SIGKILL)
    # A PID-namespace init ignores signals it sends itself: end it just as abruptly.
    os._exit(128 + signal.SIGKILL)
