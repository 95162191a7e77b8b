"""The per-container state directory: <root>/<id>/{state.json, config.json, exec.fifo}.

mkdir of the directory is the atomic claim on an id (so of N concurrent creates exactly one
wins); an flock on the directory serialises verbs acting on one container. Files are written
to a temporary name and renamed, so a crash never leaves a half-written state.json.
"""

from __future__ import annotations

import errno
import fcntl
import posix

from ociruntime.errors import ContainerExists, ContainerNotFound, InvalidContainerId, OciError
from ociruntime.state import jsonfast
from ociruntime import posixlite

STATE_FILE = "state.json"
CONFIG_FILE = "config.json"
FIFO_FILE = "exec.fifo"
NOTIFY_DIR = "notify"  # holds the sd_notify socket (lifecycle/notify_socket); the only subdir

# path -> fd of the flock this process holds on that container dir
_HELD_LOCKS: dict[str, int] = {}

# runc's id rule, [0-9A-Za-z_+.-]+, as a set (importing re costs ~6 ms per verb)
_ID_CHARS = frozenset("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_+.-")


def _valid_id(text: str) -> bool:
    return bool(text) and frozenset(text) <= _ID_CHARS


def validate_id(container_id: str) -> None:
    if not _valid_id(container_id) or container_id in (".", ".."):
        raise InvalidContainerId()


def write_atomic(path: str, data: bytes, mode: int = 0o600) -> None:
    """Readers see the old file or the new one, never a part (write a temp file, rename).

    No fsync, as runc: state lives on tmpfs (/run) and means nothing after a reboot, and a
    crashed process is covered by the rename; fsync cost ~2-3 ms per write on a disk
    --root (three writes per create)."""
    directory, name = posixlite.split(path)
    tmp = posixlite.join(directory, f".{name}.tmp{posix.getpid()}")
    fd = posix.open(tmp, posix.O_WRONLY | posix.O_CREAT | posix.O_TRUNC | posix.O_CLOEXEC, mode)
    try:
        view = memoryview(data)
        while view:
            view = view[posix.write(fd, view):]
    finally:
        posix.close(fd)
    posix.rename(tmp, path)


class ContainerDir:
    """Handle on one container's state directory."""

    def __init__(self, root: str, container_id: str) -> None:
        validate_id(container_id)
        self.root = root
        self.id = container_id
        self.path = posixlite.join(root, container_id)
        self._lock_fd = -1

    # -- claiming and locking -------------------------------------------------------
    def claim(self) -> None:
        """Create the directory; fail if the id is taken."""
        import os  # create only: the short verbs do without it (posixlite.py)

        try:
            os.makedirs(self.root, mode=0o711, exist_ok=True)
        except OSError as err:
            raise OciError(f"cannot create state root {self.root}: {err.strerror}") from None
        try:
            posix.mkdir(self.path, 0o711)
        except FileExistsError:
            raise ContainerExists() from None
        except OSError as err:
            raise OciError(f"cannot create state dir {self.path}: {err.strerror}") from None

    def exists(self) -> bool:
        return posixlite.isdir(self.path)

    def lock(self, *, shared: bool = False) -> None:
        """flock the directory until unlock() or process exit. Re-entrant within one
        process (`run` locks for start and again for delete)."""
        held = _HELD_LOCKS.get(self.path)
        if held is not None:
            self._lock_fd = held
            return
        try:
            self._lock_fd = posix.open(self.path, posix.O_RDONLY | posix.O_DIRECTORY | posix.O_CLOEXEC)
        except FileNotFoundError:
            raise ContainerNotFound(self.id) from None
        fcntl.flock(self._lock_fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        _HELD_LOCKS[self.path] = self._lock_fd
        if not posixlite.isdir(self.path):  # removed while we waited for the lock
            self.unlock()
            raise ContainerNotFound(self.id)

    def unlock(self) -> None:
        """Release this process's flock on the directory, whichever ContainerDir took it."""
        fd = _HELD_LOCKS.pop(self.path, self._lock_fd)
        if fd >= 0:
            posix.close(fd)
        self._lock_fd = -1

    # -- files ----------------------------------------------------------------------
    def file(self, name: str) -> str:
        return posixlite.join(self.path, name)

    def read_state(self) -> dict:
        try:
            with open(self.file(STATE_FILE), "rb") as fh:
                data = fh.read()
        except FileNotFoundError:
            if not self.exists():
                raise ContainerNotFound(self.id) from None
            raise OciError(f"container {self.id}: state.json is missing (creation was interrupted?)",
                           code="state.corrupt") from None
        try:
            state = jsonfast.loads(data)
        except ValueError:
            raise OciError(f"container {self.id}: state.json is corrupt", code="state.corrupt") from None
        if not _state_shape_ok(state):
            raise OciError(f"container {self.id}: state.json is corrupt", code="state.corrupt")
        return state

    def write_state(self, state: dict) -> None:
        write_atomic(self.file(STATE_FILE), jsonfast.dumps(state).encode())

    def read_config(self) -> dict:
        with open(self.file(CONFIG_FILE), "rb") as fh:
            return jsonfast.loads(fh.read())

    def write_config(self, config: dict) -> None:
        write_atomic(self.file(CONFIG_FILE), jsonfast.dumps(config).encode())

    def fifo_exists(self) -> bool:
        return posixlite.exists(self.file(FIFO_FILE))

    def remove(self) -> None:
        """Remove the directory and everything in it; tolerate it being gone."""
        try:
            names = posix.listdir(self.path)
        except FileNotFoundError:
            return
        for name in names:
            path = posixlite.join(self.path, name)
            try:
                posix.unlink(path)
            except FileNotFoundError:
                pass
            except IsADirectoryError:
                if name != NOTIFY_DIR:  # never descend elsewhere (a rootfs mount point...)
                    raise
                _remove_flat_dir(path)
        try:
            posix.rmdir(self.path)
        except OSError as err:
            if err.errno != errno.ENOENT:
                raise


def _remove_flat_dir(path: str) -> None:
    for name in posix.listdir(path):
        try:
            posix.unlink(posixlite.join(path, name))
        except FileNotFoundError:
            pass
    posix.rmdir(path)


def _state_shape_ok(state: object) -> bool:
    """The fields later code relies on have their types (the file may have been edited)."""
    if not isinstance(state, dict):
        return False
    pid, start = state.get("pid"), state.get("start_time")
    return (type(pid) is int and pid >= 0
            and (start is None or type(start) is int)
            and isinstance(state.get("cgroup") or {}, dict)
            and isinstance(state.get("annotations") or {}, dict)
            and all(isinstance(state.get(k, ""), str) for k in ("bundle", "rootfs", "created", "ociVersion")))


def list_ids(root: str) -> list[str]:
    try:
        names = posix.listdir(root)
    except FileNotFoundError:
        return []
    return sorted(n for n in names if _valid_id(n) and posixlite.isdir(posixlite.join(root, n)))
