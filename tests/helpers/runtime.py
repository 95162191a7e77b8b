"""Drive the runtime under test through its CLI, the way a caller (containerd, conmon) does.

Every call gets ``--root <session root>`` and regular files (not pipes) for stdout/stderr: a
non-tty container inherits the runtime's stdio, so a pipe would stay open as long as the
container lives. ``Result.stdout_text()`` re-reads the file, so what the container wrote after
the runtime exited shows up too.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Union

DEFAULT_RUNTIME = "/usr/local/bin/ociruntime"
CALL_TIMEOUT = 60  # a safety net against hangs, not an assertion

StdinArg = Union[None, bytes, str, Path, int, IO[Any]]


def runtime_path() -> str:
    return os.environ.get("OCI_RUNTIME", DEFAULT_RUNTIME)


def is_runc(path: str) -> bool:
    return os.path.basename(path) == "runc"


@dataclass
class Result:
    """One finished runtime invocation."""

    argv: list[str]
    returncode: int
    stdout_path: Path
    stderr_path: Path

    def stdout_text(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    def stderr_text(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    @property
    def stdout(self) -> str:
        return self.stdout_text()

    @property
    def stderr(self) -> str:
        return self.stderr_text()

    def describe(self) -> str:
        return (f"$ {' '.join(self.argv)}\nexit {self.returncode}\n--- stdout\n{self.stdout_text()}"
                f"--- stderr\n{self.stderr_text()}")

    def ok(self) -> Result:
        """Assert success and return self, so calls chain: ``rt.call(...).ok().stdout``."""
        assert self.returncode == 0, self.describe()
        return self

    def failed(self, *fragments: str, code: int = 1) -> Result:
        """Assert exit ``code`` and that stderr holds each fragment (runc's canonical texts)."""
        assert self.returncode == code, self.describe()
        err = self.stderr_text()
        for fragment in fragments:
            assert fragment in err, f"{fragment!r} not in stderr\n{self.describe()}"
        return self


class Runtime:
    """The runtime executable plus the session's private --root.

    ``env_marker`` is put in the environment of every call so the leak checker can find the
    runtime's own helper processes (they inherit it until they exec the container process).
    """

    def __init__(self, path: str, root: Path, io_dir: Path, env_marker: tuple[str, str]) -> None:
        self.path = path
        self.root = root
        self.io_dir = io_dir
        self.env_marker = env_marker
        self._counter = itertools.count()

    @property
    def name(self) -> str:
        return os.path.basename(self.path)

    @property
    def is_runc(self) -> bool:
        return is_runc(self.path)

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = dict(os.environ)
        env[self.env_marker[0]] = self.env_marker[1]
        if extra:
            env.update(extra)
        return env

    def call(self, *args: str | Path, stdin: StdinArg = None, cwd: str | Path | None = None,
             root: bool = True, extra_env: dict[str, str] | None = None,
             extra_fds: dict[int, int] | None = None, timeout: float = CALL_TIMEOUT) -> Result:
        """Run ``runtime [--root R] args...`` and return its Result (never raises on exit code).

        ``extra_fds`` maps a target fd number in the runtime to one of our fds (--preserve-fds).
        """
        argv = [self.path] + (["--root", str(self.root)] if root else []) + [str(a) for a in args]
        n = next(self._counter)
        out_path = self.io_dir / f"call{n}.out"
        err_path = self.io_dir / f"call{n}.err"
        with open(out_path, "wb") as out, open(err_path, "wb") as err, _stdin(stdin, self.io_dir, n) as sin:
            try:
                proc = subprocess.run(argv, stdin=sin, stdout=out, stderr=err, cwd=cwd,
                                      env=self.env(extra_env), timeout=timeout,
                                      pass_fds=tuple(extra_fds or ()),
                                      preexec_fn=_dup_fds(extra_fds) if extra_fds else None)
            except subprocess.TimeoutExpired as exc:
                raise AssertionError(f"runtime call hung for {timeout}s: {' '.join(argv)}") from exc
        return Result(argv, proc.returncode, out_path, err_path)

    # Verbs, named after the CLI. Each returns the Result unchecked.
    def create(self, cid: str, bundle: Any, *extra: str | Path, **kw: Any) -> Result:
        _save(bundle)
        return self.call("create", "--bundle", _bundle_path(bundle), *extra, cid, **kw)

    def start(self, cid: str, **kw: Any) -> Result:
        return self.call("start", cid, **kw)

    def run(self, cid: str, bundle: Any, *extra: str | Path, **kw: Any) -> Result:
        _save(bundle)
        return self.call("run", "--bundle", _bundle_path(bundle), *extra, cid, **kw)

    def kill(self, cid: str, *signal: str, all_: bool = False, **kw: Any) -> Result:
        return self.call("kill", *(["--all"] if all_ else []), cid, *signal, **kw)

    def delete(self, cid: str, force: bool = False, **kw: Any) -> Result:
        return self.call("delete", *(["--force"] if force else []), cid, **kw)

    def state_result(self, cid: str) -> Result:
        return self.call("state", cid)

    def state(self, cid: str) -> dict[str, Any]:
        """The parsed state JSON (asserts the call succeeded)."""
        return json.loads(self.state_result(cid).ok().stdout_text())

    def status(self, cid: str) -> str:
        return str(self.state(cid)["status"])

    def list_json(self) -> list[dict[str, Any]]:
        data = json.loads(self.call("list", "--format", "json").ok().stdout_text())
        return data or []  # runc prints `null` for no containers

    def exists(self, cid: str) -> bool:
        return (self.root / cid).exists()


def _dup_fds(fds: dict[int, int]) -> Any:
    # Runs in the child before close_fds, so the targets survive via pass_fds.
    def dup() -> None:
        for target, source in fds.items():
            os.dup2(source, target, inheritable=True)
    return dup


def _bundle_path(bundle: Any) -> str:
    return str(getattr(bundle, "path", bundle))


def _save(bundle: Any) -> None:
    save = getattr(bundle, "save", None)
    if save is not None:
        save()


class _stdin:
    """Context manager turning the ``stdin`` argument into something subprocess accepts."""

    def __init__(self, stdin: StdinArg, io_dir: Path, n: int) -> None:
        self.stdin = stdin
        self.io_dir = io_dir
        self.n = n
        self.opened: IO[Any] | None = None

    def __enter__(self) -> Any:
        if self.stdin is None:
            self.opened = open(os.devnull, "rb")
        elif isinstance(self.stdin, (bytes, str)):
            path = self.io_dir / f"call{self.n}.in"
            path.write_bytes(self.stdin.encode() if isinstance(self.stdin, str) else self.stdin)
            self.opened = open(path, "rb")
        elif isinstance(self.stdin, Path):
            self.opened = open(self.stdin, "rb")
        else:
            return self.stdin
        return self.opened

    def __exit__(self, *exc: object) -> None:
        if self.opened is not None:
            self.opened.close()
