"""Runtime logging, runc-compatible.

--log FILE --log-format json writes one {"level","msg","time"} object per line (containerd
keeps the last "error" entry; podman reads a single object). Errors always reach stderr too.
"""

from __future__ import annotations

import posix
import sys
import time

from ociruntime.state import jsonfast

_LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40}


class Logger:
    def __init__(self, path: str | None = None, fmt: str = "text", debug: bool = False) -> None:
        self.path = path
        self.fmt = fmt
        self.min_level = _LEVELS["debug"] if debug else _LEVELS["info"]

    def _line(self, level: str, msg: str, code: str | None) -> str:
        stamp = _rfc3339_now()
        if self.fmt == "json":
            record = {"level": level, "msg": msg, "time": stamp}
            if code:
                record["code"] = code
            return jsonfast.dumps(record) + "\n"
        extra = f" code={code}" if code else ""
        return f"time=\"{stamp}\" level={level} msg={jsonfast.dumps(msg)}{extra}\n"

    def log(self, level: str, msg: str, code: str | None = None) -> None:
        if _LEVELS[level] < self.min_level:
            return
        line = self._line(level, msg, code)
        if self.path:
            try:
                fd = posix.open(self.path, posix.O_WRONLY | posix.O_CREAT | posix.O_APPEND | posix.O_CLOEXEC, 0o644)
            except OSError:
                sys.stderr.write(line)
                return
            try:
                posix.write(fd, line.encode())
            finally:
                posix.close(fd)
        else:
            sys.stderr.write(line)
            sys.stderr.flush()

    def debug(self, msg: str) -> None:
        self.log("debug", msg)

    def warning(self, msg: str) -> None:
        self.log("warning", msg)

    def error(self, msg: str, code: str | None = None) -> None:
        """Log an error; it also goes to stderr as one plain line when logging elsewhere."""
        if self.path:
            self.log("error", msg, code)
        sys.stderr.write(msg + "\n")
        sys.stderr.flush()


def _rfc3339_now() -> str:
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + "Z"


# The process-wide logger, replaced by the CLI once the global flags are parsed.
logger = Logger()


def configure(path: str | None, fmt: str, debug: bool) -> Logger:
    global logger
    logger = Logger(path, fmt, debug)
    return logger
