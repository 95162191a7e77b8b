"""Errors of the rootfs set-up: one line that names the config.json field and the cause."""

from __future__ import annotations

from ociruntime.errors import KernelError


def setup_error(field: str, doing: str, err: OSError) -> KernelError:
    """A failed syscall during set-up, e.g.
    `config.json: mounts[3]: mount tmpfs on /dev: No such device`."""
    reason = err.strerror or str(err)
    if err.errno is None and err.args:
        reason = str(err.args[0])
    return KernelError(f"config.json: {field}: {doing}: {reason}", err.errno or 0)
