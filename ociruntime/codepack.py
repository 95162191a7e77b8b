"""The code pack: every module of the package, compiled, in one file the launcher imports from.

A verb imports 20-70 of our modules in a fresh process. Through the path finder each costs
a listing check, stats, an open, reads and a close, run by importlib's Python code: ~25 µs
more per module than taking the code from memory (bench/CHANGES.md). `make install` writes
the pack (tools/write_launcher.py); the launcher puts a PackFinder first on sys.meta_path.

The pack is a cache, never the truth. A module is served from it only while its source is
the file packed (same inode, size, mtime and ctime; ctime cannot be set back by hand), and
only from the very pack file that was installed (same device, inode, size and mtime): an
edited module, a rewritten pack, or a path that now resolves elsewhere (inside a
container's root after pivot_root) falls back to the path finder, as a stale .pyc would.
No descriptor stays open between imports, so none can be inherited by a container process.

File layout: MAGIC, the header's length (4 bytes, little-endian), the header
(marshal of (importlib's MAGIC_NUMBER, {module: (offset, length, is_package, source,
source identity)})), then the code objects.
"""

from __future__ import annotations

import marshal
import posix
import sys

MAGIC = b"OCRPACK2"  # the layout's version too
_PREFIX = len(MAGIC) + 4
_OPEN_FLAGS = posix.O_RDONLY | posix.O_CLOEXEC | posix.O_NONBLOCK  # a FIFO there never blocks us
# ModuleSpec without importing importlib (which brings warnings): the running spec's type.
_ModuleSpec = type(sys.__spec__) if sys.__spec__ is not None else None


def _bytecode_magic() -> bytes:
    """What a .pyc carries: packs from another interpreter version are refused."""
    return sys.modules["_frozen_importlib_external"].MAGIC_NUMBER


def _identity(st: posix.stat_result) -> tuple[int, int, int, int]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _source_identity(st: posix.stat_result) -> tuple[int, int, int, int]:
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


class PackFinder:
    """Meta-path finder and loader for the modules in one pack file."""

    def __init__(self, path: str, identity: tuple[int, int, int, int], data_start: int,
                 index: dict[str, tuple]) -> None:
        self.path = path
        self._identity = identity
        self._data_start = data_start
        self._index = index

    def find_spec(self, name: str, path: object = None, target: object = None):  # type: ignore[no-untyped-def]
        entry = self._index.get(name)
        if entry is None:
            return None
        offset, length, is_package, source, source_identity = entry
        code = self._read(offset, length, source, source_identity)
        if code is None:
            return None
        spec = _ModuleSpec(name, self, origin=source, loader_state=code, is_package=is_package)
        spec.has_location = True  # __file__ is the source: tracebacks and linecache read it
        if is_package:
            spec.submodule_search_locations = [source.rpartition("/")[0]]
        return spec

    def _read(self, offset: int, length: int, source: str, source_identity: tuple) -> bytes | None:
        """The packed code, or None where the path finder must decide instead."""
        try:
            if _source_identity(posix.stat(source)) != source_identity:
                return None
            fd = posix.open(self.path, _OPEN_FLAGS)
            try:
                if _identity(posix.fstat(fd)) != self._identity:
                    return None
                code = posix.pread(fd, length, self._data_start + offset)
            finally:
                posix.close(fd)
        except OSError:
            return None
        return code if len(code) == length else None

    @staticmethod
    def create_module(spec: object) -> None:
        return None  # the default module object

    @staticmethod
    def exec_module(module: object) -> None:
        spec = module.__spec__  # type: ignore[attr-defined]
        code, spec.loader_state = spec.loader_state, None  # the bytes are not kept alive
        exec(marshal.loads(code), module.__dict__)  # noqa: S102


def install(pack_path: str) -> PackFinder | None:
    """Put the pack's finder first on sys.meta_path. A missing, foreign or damaged pack
    installs nothing: every import then takes the path finder, only slower."""
    if _ModuleSpec is None:
        return None
    try:
        fd = posix.open(pack_path, _OPEN_FLAGS)
    except OSError:
        return None
    try:
        identity = _identity(posix.fstat(fd))
        prefix = posix.pread(fd, _PREFIX, 0)
        if len(prefix) != _PREFIX or prefix[:len(MAGIC)] != MAGIC:
            return None
        header_length = int.from_bytes(prefix[len(MAGIC):], "little")
        if _PREFIX + header_length > identity[2]:
            return None
        header = posix.pread(fd, header_length, _PREFIX)
        bytecode_magic, index = marshal.loads(header)
    except (OSError, EOFError, ValueError, TypeError):
        return None
    finally:
        posix.close(fd)
    if bytecode_magic != _bytecode_magic() or not _well_formed(index):
        return None
    finder = PackFinder(pack_path, identity, _PREFIX + header_length, index)
    sys.meta_path.insert(0, finder)
    return finder


def _well_formed(index: object) -> bool:
    return isinstance(index, dict) and all(
        type(entry) is tuple and len(entry) == 5 and type(entry[3]) is str
        and type(entry[4]) is tuple and len(entry[4]) == 4 for entry in index.values())


def write_pack(parent_dir: str, package: str, pack_path: str) -> int:
    """Compile every module of `package` (a directory in parent_dir) into pack_path, written
    atomically; returns the number of modules. A syntax error fails the install."""
    import os

    index: dict[str, tuple] = {}
    chunks: list[bytes] = []
    offset = 0
    for directory, subdirs, files in os.walk(os.path.join(parent_dir, package)):
        subdirs[:] = sorted(d for d in subdirs if d != "__pycache__")
        for filename in sorted(f for f in files if f.endswith(".py")):
            source = os.path.join(directory, filename)
            dotted = os.path.relpath(source, parent_dir)[:-len(".py")].replace(os.sep, ".")
            is_package = filename == "__init__.py"
            name = dotted[:-len(".__init__")] if is_package else dotted
            with open(source, "rb") as fh:
                st = os.fstat(fh.fileno())
                text = fh.read()
            code = marshal.dumps(compile(text, source, "exec", dont_inherit=True, optimize=0))
            index[name] = (offset, len(code), is_package, source, _source_identity(st))
            chunks.append(code)
            offset += len(code)
    header = marshal.dumps((_bytecode_magic(), index))
    os.makedirs(os.path.dirname(pack_path) or ".", exist_ok=True)
    tmp = f"{pack_path}.tmp{os.getpid()}"
    with open(tmp, "wb") as fh:
        fh.write(MAGIC + len(header).to_bytes(4, "little") + header)
        fh.writelines(chunks)
    os.chmod(tmp, 0o644)
    os.replace(tmp, pack_path)
    return len(index)
