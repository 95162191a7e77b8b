"""OCI hooks: run each hook with the container state on stdin, its args, env and timeout."""

from __future__ import annotations

import os
import _signal as signal  # the C module: signal.py builds enums at import (~4 ms)
import time

from ociruntime.errors import HookError
from ociruntime.state import jsonfast  # not json: it imports re (~10 ms per create)

# Hooks whose failure only logs a warning (runtime-spec: poststart, poststop).
WARN_ONLY = frozenset({"poststart", "poststop"})


def run_hooks(hooks: list[dict], state: dict, phase: str) -> None:
    """Run hooks in order; raise HookError on the first failure (callers of warn-only
    phases use run_hooks_warn)."""
    if not hooks:
        return
    payload = jsonfast.dumps(state).encode()
    for index, hook in enumerate(hooks):
        _run_one(hook, payload, f"hooks.{phase}[{index}]")


def run_hooks_warn(hooks: list[dict], state: dict, phase: str) -> None:
    """For poststart/poststop: a failing hook logs a warning and the rest still run."""
    if not hooks:
        return
    from ociruntime.log import logger

    payload = jsonfast.dumps(state).encode()
    for index, hook in enumerate(hooks):
        try:
            _run_one(hook, payload, f"hooks.{phase}[{index}]")
        except HookError as err:
            logger.warning(str(err))


def _run_one(hook: dict, payload: bytes, where: str) -> None:
    path = hook["path"]
    args = hook.get("args") or [path]
    env = hook.get("env")
    timeout = hook.get("timeout")
    stdin_r, stdin_w = os.pipe()
    err_r, err_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the hook process
        try:
            os.dup2(stdin_r, 0)
            os.dup2(err_w, 1)  # hook output must not mix into the container's stdout
            os.dup2(err_w, 2)
            os.closerange(3, 65536)
            for sig in (signal.SIGPIPE, signal.SIGXFSZ):
                signal.signal(sig, signal.SIG_DFL)
            if env is None:
                os.execv(path, args)
            os.execve(path, args, dict(e.split("=", 1) for e in env if "=" in e))
        except OSError as exc:
            os.write(2, f"exec {path}: {exc.strerror}".encode())
        os._exit(127)
    os.close(stdin_r)
    os.close(err_w)
    try:
        _feed(stdin_w, payload)
        status, stderr = _wait(pid, err_r, timeout)
    finally:
        os.close(err_r)
    if status is None:
        raise HookError(f"{where}: {path} did not finish within its timeout of {timeout}s")
    if status != 0:
        detail = stderr.decode(errors="replace").strip().splitlines()
        tail = f": {detail[-1]}" if detail else ""
        raise HookError(f"{where}: {path} failed ({_describe(status)}){tail}")


def _feed(fd: int, payload: bytes) -> None:
    # The hook may exit without reading stdin: ignore EPIPE.
    try:
        os.write(fd, payload)
    except BrokenPipeError:
        pass
    finally:
        os.close(fd)


def _wait(pid: int, err_fd: int, timeout: int | None) -> tuple[int | None, bytes]:
    """Wait for the hook; kill it when the timeout passes. Returns (wait status, stderr)."""
    import select

    deadline = None if timeout is None else time.monotonic() + timeout
    chunks: list[bytes] = []
    pidfd = os.pidfd_open(pid)
    try:
        open_fds = [pidfd, err_fd]
        while True:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select(open_fds, [], [], remaining)
            if not ready:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                return None, b"".join(chunks)
            if err_fd in ready:
                data = os.read(err_fd, 4096)
                if data:
                    if sum(map(len, chunks)) < 65536:
                        chunks.append(data)
                else:
                    open_fds.remove(err_fd)
            if pidfd in ready:
                _, status = os.waitpid(pid, 0)
                return status, b"".join(chunks)
    finally:
        os.close(pidfd)


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by signal {os.WTERMSIG(status)}"
    return f"exit status {os.waitstatus_to_exitcode(status)}"
