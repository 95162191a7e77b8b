"""`ctr` as a user types it, against the private daemon: run/exec/task verbs with our runtime.

Every container gets ``--runc-binary <runtime> --runc-root <private>`` and ctr's fifos go to a
private dir. Terminal calls (``-t``) run under util-linux ``script`` so ctr has a pty on stdin.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import time
from dataclasses import dataclass

from engines.containerd import CTR_TIMEOUT, Containerd, describe

TASK_TIMEOUT = 30.0  # how long a task may take to reach a status (safety net only)


@dataclass
class Ctr:
    daemon: Containerd
    namespace: str
    image: str

    def __call__(self, *args: str, check: bool = True,
                 timeout: float = CTR_TIMEOUT) -> subprocess.CompletedProcess[str]:
        return self.daemon.ctr(*args, namespace=self.namespace, check=check, timeout=timeout)

    def runtime_flags(self) -> list[str]:
        return ["--runc-binary", self.daemon.runtime, "--runc-root", str(self.daemon.runtime_root),
                "--fifo-dir", str(self.daemon.fifo_dir)]

    def run(self, cid: str, *cmd: str, flags: tuple[str, ...] = (), check: bool = False,
            timeout: float = CTR_TIMEOUT) -> subprocess.CompletedProcess[str]:
        return self("run", *self.runtime_flags(), *flags, self.image, cid, *cmd, check=check,
                    timeout=timeout)

    def in_terminal(self, *args: str, timeout: float = CTR_TIMEOUT) -> subprocess.CompletedProcess[str]:
        """Run ctr ARGS with a pty as its stdin/stdout (``script -qec``); script -e passes on
        ctr's exit code. Output is what the terminal showed (CRLF line ends)."""
        command = shlex.join(self.daemon.ctr_argv(*args, namespace=self.namespace))
        argv = ["script", "-qec", command, "/dev/null"]
        try:
            done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                  timeout=timeout, start_new_session=True)
        except subprocess.TimeoutExpired as exc:
            raise AssertionError(f"ctr (in script) hung for {timeout}s: {command}") from exc
        return done

    def task_status(self, cid: str) -> str:
        """The STATUS column of `ctr task ls` for ``cid`` ("" when there is no task)."""
        for line in self("task", "ls").stdout.splitlines()[1:]:
            fields = line.split()
            if fields and fields[0] == cid:
                return fields[-1]
        return ""

    def task_pid(self, cid: str) -> int:
        for line in self("task", "ls").stdout.splitlines()[1:]:
            fields = line.split()
            if fields and fields[0] == cid:
                return int(fields[1])
        raise AssertionError(f"no task {cid}")

    def wait_status(self, cid: str, status: str) -> None:
        deadline = time.monotonic() + TASK_TIMEOUT
        while (current := self.task_status(cid)) != status:
            if time.monotonic() > deadline:
                raise AssertionError(f"task {cid} is {current!r}, never became {status}")
            time.sleep(0.05)

    def remove(self, cid: str) -> int:
        """Delete the stopped task and the container; returns the task's exit status (ctr 1.6
        prints it as a warning: `task X exit with non-zero exit code N`)."""
        deleted = self("task", "delete", cid)
        self("container", "delete", cid)
        found = re.search(r"exit with non-zero exit code (\d+)", deleted.stderr)
        return int(found.group(1)) if found else 0

    def force_remove_all(self) -> None:
        """Cleanup after a failed test: kill and delete every task and container."""
        for line in self("task", "ls", "-q", check=False).stdout.split():
            self("task", "kill", "-a", "-s", "SIGKILL", line, check=False)
            self("task", "delete", "-f", line, check=False)
        for line in self("container", "ls", "-q", check=False).stdout.split():
            self("container", "delete", line, check=False)


def expect(done: subprocess.CompletedProcess[str], code: int) -> subprocess.CompletedProcess[str]:
    assert done.returncode == code, describe(done)
    return done
