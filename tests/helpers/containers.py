"""Higher-level container recipes built on the runtime driver."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import procs
from .bundle import Bundle
from .runtime import Result, Runtime

# A container that says it is ready, then waits for a signal; TERM/USR1/USR2/HUP each end
# it with a distinct exit code so a test can tell which signal arrived. `wait` returns as soon
# as a trapped signal comes in (the `sleep` child dies with the container's pid namespace).
SIGNAL_WAITER = (
    'trap "exit 15" TERM; trap "exit 10" USR1; trap "exit 12" USR2; trap "exit 1" HUP; '
    'echo ready; while :; do sleep 100 & wait $!; done'
)
# Like SIGNAL_WAITER, without traps: only SIGKILL ends it when it is pid 1 of its namespace.
SLEEPER = "echo ready; while :; do sleep 100 & wait $!; done"


def inside(runtime: Runtime, bundle: Bundle, cid: str, script: str, code: int = 0) -> str:
    """Run ``sh -c script`` to completion with ``run``; assert its exit code; return stdout."""
    bundle.sh(script)
    result = runtime.run(cid, bundle)
    assert result.returncode == code, result.describe()
    return result.stdout_text()


@dataclass
class Created:
    """A container after a successful ``create``: its id, init pid and the create call."""

    cid: str
    pid: int
    create: Result
    pid_file: Path

    def output(self) -> str:
        """What the container wrote to its stdout (the runtime's stdout at create)."""
        return self.create.stdout_text()

    def wait_output(self, text: str) -> str:
        return procs.wait_for_text(self.create.stdout_path, text)


def create(runtime: Runtime, bundle: Bundle, cid: str, *extra: str) -> Created:
    pid_file = runtime.io_dir / f"{cid}.pid"
    result = runtime.create(cid, bundle, "--pid-file", pid_file, *extra).ok()
    return Created(cid, int(pid_file.read_text()), result, pid_file)


def start_and_wait(runtime: Runtime, container: Created) -> procs.ProcessExit:
    """Start a created container and wait for its init to exit."""
    runtime.start(container.cid).ok()
    return procs.wait_exit(container.pid)
