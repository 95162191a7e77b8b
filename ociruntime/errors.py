"""One error hierarchy for the whole runtime.

Every error carries a stable machine-readable ``code`` (documented in the README) and a
one-line human message. Messages keep runc's wording where callers match on the text.
"""

from __future__ import annotations


class OciError(Exception):
    """Base class: a failure the CLI reports as one line and exit status 1."""

    code = "runtime.error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        # One line, always: values quoted from a config may hold newlines.
        message = message.replace("\r", "\\r").replace("\n", "\\n")
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return self.message


class ConfigError(OciError):
    """config.json (or process.json, resources JSON) is invalid at a given JSON path."""

    code = "config.invalid"

    def __init__(self, path: str, reason: str, *, file: str = "config.json") -> None:
        where = f"{file}: {path}: " if path else f"{file}: "
        super().__init__(where + reason)
        self.path = path
        self.reason = reason
        self.file = file


class UsageError(OciError):
    """Bad command line: unknown flag, missing argument."""

    code = "usage.invalid"


class ContainerNotFound(OciError):
    code = "container.not_found"

    def __init__(self, container_id: str = "") -> None:
        super().__init__("container does not exist")
        self.container_id = container_id


class ContainerExists(OciError):
    code = "container.exists"

    def __init__(self) -> None:
        super().__init__("container with given ID already exists")


class InvalidContainerId(OciError):
    code = "container.invalid_id"

    def __init__(self) -> None:
        super().__init__("invalid container ID format")


class ContainerStateError(OciError):
    """The verb is not allowed in the container's current status."""

    code = "container.state"


class KernelError(OciError):
    """A system call failed; ``errno`` keeps the number for callers and tests."""

    code = "kernel.error"

    def __init__(self, message: str, errno: int = 0) -> None:
        super().__init__(message)
        self.errno = errno


class UnsupportedError(OciError):
    """The host lacks a facility the config asks for (AppArmor, systemd, a controller)."""

    code = "kernel.unsupported"


class HookError(OciError):
    code = "hook.failed"
