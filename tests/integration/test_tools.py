"""tools/mkbundle.py and tools/demo.sh (what `make run` does), against the runtime under test."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from helpers.bundle import REPO, mkbundle


def tree(root: Path) -> dict[str, tuple]:
    """Everything that makes a bundle: type, mode, owner, link target or content hash."""
    entries = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            st = path.lstat()
            if path.is_symlink():
                what = ("link", os.readlink(path))
            elif path.is_dir():
                what = ("dir",)
            else:
                what = ("file", hashlib.sha256(path.read_bytes()).hexdigest())
            entries[str(path.relative_to(root))] = (*what, st.st_mode, st.st_uid, st.st_gid)
    return entries


def mkbundle_cli(*args: str | Path) -> None:
    subprocess.run([sys.executable, REPO / "tools/mkbundle.py", *map(str, args)], check=True,
                   capture_output=True)


def test_mkbundle_builds_a_busybox_bundle_idempotently(test_dir):
    target = test_dir / "b"
    mkbundle_cli(target)
    first = tree(target)
    mkbundle_cli(target)
    assert tree(target) == first

    rootfs = target / "rootfs"
    assert (rootfs / "bin/busybox").read_bytes() == Path(mkbundle.BUSYBOX).read_bytes()
    for applet in ("sh", "ls", "cat", "hostname", "ip", "stat"):
        assert os.readlink(rootfs / "bin" / applet) == "busybox"
    assert len(list((rootfs / "bin").iterdir())) == len(mkbundle.applets()) + 1
    passwd = (rootfs / "etc/passwd").read_text().splitlines()
    assert passwd[0].startswith("root:x:0:0:") and any(line.split(":")[2] == "1000" for line in passwd)
    assert any(line.split(":")[2] == "1000" for line in (rootfs / "etc/group").read_text().splitlines())
    assert (rootfs / "tmp").stat().st_mode & 0o7777 == 0o1777
    for mount_point in ("proc", "sys", "dev"):
        assert (rootfs / mount_point).is_dir()
    config = json.loads((target / "config.json").read_text())
    assert config["process"]["terminal"] is False and config["root"]["path"] == "rootfs"


def test_mkbundle_repairs_a_damaged_rootfs(test_dir):
    target = test_dir / "b"
    mkbundle_cli(target)
    first = tree(target)
    (target / "rootfs/bin/ls").unlink()
    (target / "rootfs/bin/cat").unlink()
    (target / "rootfs/bin/cat").symlink_to("/elsewhere")
    mkbundle_cli(target)
    assert tree(target) == first


def test_mkbundle_config_only(test_dir):
    target = test_dir / "c"
    mkbundle_cli(target, "--config-only")
    assert sorted(os.listdir(target)) == ["config.json"]
    assert json.loads((target / "config.json").read_text())["ociVersion"].startswith("1.")


def test_builtin_config_is_runc_spec_without_terminal():
    config = mkbundle.builtin_config()
    assert config["process"]["terminal"] is False
    assert config["process"]["args"] == ["sh"]
    assert {ns["type"] for ns in config["linux"]["namespaces"]} == {"pid", "network", "ipc", "uts", "mount"}


def test_demo_walks_the_lifecycle(runtime, bundle, test_dir):
    out, err = test_dir / "demo.out", test_dir / "demo.err"
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        rc = subprocess.run(["bash", REPO / "tools/demo.sh", bundle.path], stdin=subprocess.DEVNULL,
                            stdout=stdout, stderr=stderr, env=runtime.env({"OCI_RUNTIME": runtime.path}),
                            timeout=60).returncode
    text = out.read_text()
    assert rc == 0, text + err.read_text()
    assert re.findall(r'"status": "(\w+)"', text) == ["created", "running", "stopped"]
    assert "hello from ociruntime" in text
    assert text.rstrip().endswith("nothing left")
