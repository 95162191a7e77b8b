"""Reading and writing cgroup control files, with errors that name the config field.

Writes never create files (no O_CREAT): a missing control file means the host cannot apply
the value, and the error says which field and which file. Each value is one write(2), as
the kernel parses one value per write.
"""

from __future__ import annotations

import errno
import posix

from ociruntime.errors import ConfigError
from ociruntime import posixlite


class Fields:
    """How to name a resources field in errors: JSON path prefix and the file it came from."""

    __slots__ = ("prefix", "file")

    def __init__(self, prefix: str = "linux.resources.", file: str = "config.json") -> None:
        self.prefix = prefix
        self.file = file

    def __repr__(self) -> str:
        return f"Fields(prefix={self.prefix!r}, file={self.file!r})"

    def error(self, field: str, reason: str) -> ConfigError:
        return ConfigError(self.prefix + field, reason, file=self.file)


CONFIG_FIELDS = Fields()


def write(dirpath: str, name: str, value: str, field: str, fields: Fields) -> None:
    """Write `value` to dirpath/name or raise ConfigError naming `field` and the file."""
    path = posixlite.join(dirpath, name)
    try:
        fd = posix.open(path, posix.O_WRONLY | posix.O_TRUNC | posix.O_CLOEXEC)
    except OSError as e:
        raise fields.error(field, f"cannot set {value!r}: {path}: {posix.strerror(e.errno)}") from e
    try:
        posix.write(fd, value.encode())
    except OSError as e:
        raise fields.error(field, f"cannot set {value!r}: {path}: {posix.strerror(e.errno)}") from e
    finally:
        posix.close(fd)


def write_unless_default(dirpath: str, name: str, value: str, field: str, fields: Fields,
                         default: str) -> None:
    """Like write(), but a missing file is fine when the value is the kernel's default:
    such a value asks for nothing the host lacks (cpu.idle 0 or a burst of 0 on kernels
    without those files)."""
    err = try_write(dirpath, name, value)
    if err == errno.ENOENT and value == default:
        return
    if err:
        write(dirpath, name, value, field, fields)   # again, for the error naming the field


def try_write(dirpath: str, name: str, value: str) -> int:
    """Write and return 0 or the errno; for best-effort writes and retry logic."""
    try:
        fd = posix.open(posixlite.join(dirpath, name), posix.O_WRONLY | posix.O_TRUNC | posix.O_CLOEXEC)
    except OSError as e:
        return e.errno or errno.EIO
    try:
        posix.write(fd, value.encode())
        return 0
    except OSError as e:
        return e.errno or errno.EIO
    finally:
        posix.close(fd)


def read(dirpath: str, name: str) -> str:
    with open(posixlite.join(dirpath, name), encoding="utf-8") as f:
        return f.read()


def read_int(dirpath: str, name: str) -> int:
    """A single-number file; 'max' reads as -1."""
    text = read(dirpath, name).strip()
    return -1 if text == "max" else int(text)


def read_keyed(dirpath: str, name: str) -> dict[str, int]:
    """'key value' lines (memory.stat, cpu.stat, memory.events, ...)."""
    out: dict[str, int] = {}
    for line in read(dirpath, name).splitlines():
        parts = line.split()
        if len(parts) == 2:
            try:
                out[parts[0]] = int(parts[1])
            except ValueError:
                continue
    return out


def exists(dirpath: str, name: str) -> bool:
    return posixlite.exists(posixlite.join(dirpath, name))
