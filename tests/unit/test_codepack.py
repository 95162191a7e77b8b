"""ociruntime/codepack.py: modules come from the pack only while the pack and their sources
are the ones packed; anything else falls back to the path finder, and nothing is left open.

Each scenario runs in a fresh `python -IS` (the launcher's flags), so no import is cached.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SITE_PACKAGES = str(REPO / f".venv/lib/python{sys.version_info[0]}.{sys.version_info[1]}/site-packages")
sys.path.insert(0, str(REPO))

from ociruntime.codepack import MAGIC, write_pack  # noqa: E402

PACKAGE = {
    "pk/__init__.py": "VALUE = 'init'\n",
    "pk/a.py": "from pk import b\nA = b.B + 1\n",
    "pk/b.py": "B = 41\n",
    "pk/sub/__init__.py": "",
    "pk/sub/c.py": "def boom():\n    raise ValueError('from c')\n",
}

# Runs in the child: install the pack, run the scenario's code, report what was imported how.
CHILD = """
import json, sys
sys.path.insert(0, {parent!r}); sys.path.insert(0, {repo!r})
from ociruntime.codepack import install
fds_before = sorted(__import__('posix').listdir('/proc/self/fd'))
finder = install({pack!r})
{code}
def loader(name):
    return type(sys.modules[name].__spec__.loader).__name__
names = [n for n in sys.modules if n == 'pk' or n.startswith('pk.')]
print(json.dumps({{"installed": finder is not None, "loaders": {{n: loader(n) for n in names}},
                  "files": {{n: sys.modules[n].__file__ for n in names}},
                  "fds_leaked": sorted(__import__('posix').listdir('/proc/self/fd')) != fds_before,
                  "result": globals().get("result")}}))
"""


def make_package(parent: Path) -> None:
    for rel, text in PACKAGE.items():
        path = parent / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def run_child(parent: Path, pack: Path, code: str) -> dict:
    script = CHILD.format(parent=str(parent), repo=str(REPO), pack=str(pack), code=code)
    out = subprocess.run([sys.executable, "-IS", "-c", script], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def packed(tmp_path: Path) -> tuple[Path, Path]:
    parent = tmp_path / "src"
    make_package(parent)
    pack = tmp_path / "pk.pack"
    assert write_pack(str(parent), "pk", str(pack)) == 5
    return parent, pack


def test_modules_come_from_the_pack_with_their_source_paths(tmp_path: Path) -> None:
    parent, pack = packed(tmp_path)
    code = ("import pk.a, pk.sub.c, traceback\n"
            "try:\n    pk.sub.c.boom()\n"
            "except ValueError:\n    tb = traceback.format_exc()\n"
            "result = [pk.a.A, pk.VALUE, list(pk.__path__), 'raise ValueError' in tb]")
    report = run_child(parent, pack, code)
    assert report["installed"]
    assert set(report["loaders"].values()) == {"PackFinder"}
    assert set(report["loaders"]) == {"pk", "pk.a", "pk.b", "pk.sub", "pk.sub.c"}
    assert report["files"]["pk.sub.c"] == str(parent / "pk/sub/c.py")
    # the package's real directory, and tracebacks show the source lines
    assert report["result"] == [42, "init", [str(parent / "pk")], True]
    assert not report["fds_leaked"]


def test_an_edited_module_is_imported_from_its_source(tmp_path: Path) -> None:
    parent, pack = packed(tmp_path)
    edited = parent / "pk/b.py"
    edited.write_text("B = 99\n")
    os.utime(edited, ns=(1, 1))  # another mtime even within the clock's granularity
    report = run_child(parent, pack, "import pk.a\nresult = pk.a.A")
    assert report["result"] == 100
    assert report["loaders"]["pk.b"] == "SourceFileLoader"
    assert report["loaders"]["pk.a"] == "PackFinder"


def test_an_edit_that_keeps_size_and_mtime_is_still_seen(tmp_path: Path) -> None:
    """`touch -r`, `rsync -t`: same size, mtime set back. The ctime (never settable) tells."""
    parent, pack = packed(tmp_path)
    edited = parent / "pk/b.py"
    before = edited.stat()
    time.sleep(0.05)  # past the clock tick of the packing: coarse timestamps could tie
    edited.write_text("B = 77\n")  # the same size as "B = 41\n"
    os.utime(edited, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert (edited.stat().st_size, edited.stat().st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    report = run_child(parent, pack, "import pk.a\nresult = pk.a.A")
    assert report["result"] == 78
    assert report["loaders"]["pk.b"] == "SourceFileLoader"


def test_a_module_added_after_packing_is_found_in_the_package_directory(tmp_path: Path) -> None:
    parent, pack = packed(tmp_path)
    (parent / "pk/late.py").write_text("LATE = True\n")
    report = run_child(parent, pack, "import pk.late\nresult = pk.late.LATE")
    assert report["result"] is True
    assert report["loaders"] == {"pk": "PackFinder", "pk.late": "SourceFileLoader"}


def test_a_pack_replaced_after_start_is_not_read(tmp_path: Path) -> None:
    """The index in memory belongs to the file that was installed: a rewritten pack (another
    inode, maybe other offsets) is never read with it."""
    parent, pack = packed(tmp_path)
    code = (f"from ociruntime.codepack import write_pack\nwrite_pack({str(parent)!r}, 'pk', {str(pack)!r})\n"
            "import pk.a\nresult = pk.a.A")
    report = run_child(parent, pack, code)
    assert report["installed"] and report["result"] == 42
    assert set(report["loaders"].values()) == {"SourceFileLoader"}
    assert not report["fds_leaked"]


def test_missing_damaged_or_foreign_packs_install_nothing(tmp_path: Path) -> None:
    parent, pack = packed(tmp_path)
    whole = pack.read_bytes()
    header_length = int.from_bytes(whole[len(MAGIC):len(MAGIC) + 4], "little")
    foreign = bytearray(whole)
    # the header starts with the marshalled bytecode magic: a bytes object of 4 bytes
    magic_at = whole.index(sys.modules["_frozen_importlib_external"].MAGIC_NUMBER, len(MAGIC) + 4)
    foreign[magic_at] ^= 0xFF
    cases = {
        "missing": None,
        "empty": b"",
        "other magic": b"NOTAPACK" + whole[len(MAGIC):],
        "truncated header": whole[:len(MAGIC) + 4 + header_length // 2],
        "other interpreter": bytes(foreign),
    }
    for label, content in cases.items():
        target = tmp_path / "case.pack"
        target.unlink(missing_ok=True)
        if content is not None:
            target.write_bytes(content)
        report = run_child(parent, target, "import pk.a\nresult = pk.a.A")
        assert not report["installed"], label
        assert report["result"] == 42, label
        assert set(report["loaders"].values()) == {"SourceFileLoader"}, label
        assert not report["fds_leaked"], label


def test_the_installed_pack_is_current_and_serves_the_cli() -> None:
    """`make install` packs every module of the package; the launcher's imports use it."""
    pack = REPO / "build/ociruntime.pack"
    assert pack.is_file(), "run `make install`: it writes the code pack"
    script = ("import sys, json\n"
              f"sys.path.insert(0, {str(REPO)!r}); sys.path.append({SITE_PACKAGES!r})\n"
              "from ociruntime.codepack import install\n"
              f"finder = install({str(pack)!r})\n"
              "import ociruntime.cli, ociruntime.lifecycle.create\n"
              "print(json.dumps([sorted(finder._index), type(ociruntime.cli.__spec__.loader).__name__,\n"
              "                  type(sys.modules['ociruntime.lifecycle.create'].__spec__.loader).__name__]))")
    python = str(REPO / ".venv/bin/python")
    out = subprocess.run([python, "-IS", "-c", script], capture_output=True, text=True, check=True)
    packed_names, cli_loader, create_loader = json.loads(out.stdout)
    sources = sorted(str(p.relative_to(REPO).with_suffix("")).replace("/", ".").removesuffix(".__init__")
                     for p in (REPO / "ociruntime").rglob("*.py"))
    assert packed_names == sources
    assert (cli_loader, create_loader) == ("PackFinder", "PackFinder")
