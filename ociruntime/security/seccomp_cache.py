"""Compiled seccomp programs kept under the state root: libseccomp compiles a profile once,
not on every `create` and `exec`.

libseccomp takes 18-24 ms here to compile a container engine's default profile (~440
syscalls, three architectures); reading the program back takes well under a millisecond.
An entry's key is everything the program depends on: the profile as given (its JSON
text), libseccomp's version and API level, the kernel (release, build, machine: the
actions and flags it supports), ociruntime's version and its two compiler modules. An entry
whose stored key differs in any byte is a miss. Only profiles that compiled are stored, so
every error is still reported by compile_seccomp() with its JSON path.

Entries live in <root>/.seccomp@cache (0700, like the root a tmpfs in practice), at most
MAX_ENTRIES of them; `delete` leaves them. Any trouble reading or writing one is a miss.
"""

from __future__ import annotations

import marshal
import posix

from ociruntime import __version__, log, posixlite
from ociruntime.state.jsonfast import dumps

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ociruntime.security.seccomp import SeccompProgram

CACHE_DIR = ".seccomp@cache"  # "@": never a container id, so no verb can take it for one
MAX_ENTRIES = 32
_FORMAT = 1  # of the marshalled entry below


def compile_cached(cfg: object, root: str | None) -> SeccompProgram | None:
    """compile_seccomp(cfg), through the cache under root (no cache when root is None)."""
    from ociruntime.security import seccomp

    if root is None or not isinstance(cfg, dict):
        return seccomp.compile_seccomp(cfg)
    try:
        key = _key(cfg, seccomp.__file__)
    except (OSError, TypeError):  # TypeError: a value JSON cannot hold; compile explains
        return seccomp.compile_seccomp(cfg)
    directory = posixlite.join(root, CACHE_DIR)
    path = posixlite.join(directory, _name(key))
    program = _load(path, key)
    if program is not None:
        for name in program.ignored_syscalls:  # what compile_seccomp logs when it skips one
            log.logger.debug(f"unknown seccomp syscall {name!r} ignored")
        return program
    program = seccomp.compile_seccomp(cfg)
    if program is not None:
        _store(directory, path, key, program)
    return program


def _key(cfg: dict, compiler_file: str) -> bytes:
    from ociruntime.linux import seccomp as scmp

    uname = posix.uname()
    parts = [str(_FORMAT), __version__, scmp.libseccomp_version(), str(scmp.api_level()),
             uname.release, uname.version, uname.machine]
    for module_file in (compiler_file, scmp.__file__):
        st = posix.stat(module_file)
        parts.append(f"{st.st_size}:{st.st_mtime_ns}")
    return ("|".join(parts) + "\n" + dumps(cfg)).encode("utf-8", "surrogatepass")


def _name(key: bytes) -> str:
    import _sha256  # the builtin module: hashlib would load OpenSSL

    return _sha256.sha256(key).hexdigest()


def _load(path: str, key: bytes) -> SeccompProgram | None:
    from ociruntime.security.seccomp import SeccompProgram

    try:
        fd = posix.open(path, posix.O_RDONLY | posix.O_CLOEXEC)
    except OSError:
        return None
    try:
        data = posix.read(fd, posix.fstat(fd).st_size + 1)
        stored_key, fields = marshal.loads(data)
        if stored_key != key:
            return None
        bpf, flags, listener_path, listener_metadata, needs_listener, ignored, can_wait = fields
        if not isinstance(bpf, bytes) or not bpf or len(bpf) % 8:
            return None
        return SeccompProgram(bpf=bpf, flags=int(flags), listener_path=str(listener_path),
                              listener_metadata=str(listener_metadata), needs_listener=bool(needs_listener),
                              ignored_syscalls=tuple(str(n) for n in ignored), trampoline_can_wait=bool(can_wait))
    except (OSError, ValueError, EOFError, TypeError):
        return None
    finally:
        posix.close(fd)


def _store(directory: str, path: str, key: bytes, program: SeccompProgram) -> None:
    from ociruntime.state.store import write_atomic

    fields = (program.bpf, program.flags, program.listener_path, program.listener_metadata,
              program.needs_listener, tuple(program.ignored_syscalls), program.trampoline_can_wait)
    try:
        try:
            posix.mkdir(directory, 0o700)
        except FileExistsError:
            pass
        write_atomic(path, marshal.dumps((key, fields)), 0o600)
        _trim(directory)
    except OSError as err:  # no root yet (the first create makes it later), read-only, full
        log.logger.debug(f"seccomp cache: not stored in {directory}: {err.strerror}")


def _trim(directory: str) -> None:
    """Keep the MAX_ENTRIES most recently written entries."""
    entries = []
    for name in posix.listdir(directory):
        path = posixlite.join(directory, name)
        try:
            entries.append((posix.stat(path).st_mtime_ns, path))
        except FileNotFoundError:
            continue
    entries.sort()
    for _, path in entries[:-MAX_ENTRIES]:
        try:
            posix.unlink(path)
        except FileNotFoundError:
            pass
