"""Build a tiny OCI image archive from Debian's busybox-static, for `ctr image import`.

No registry: the layer is a tar of a rootfs holding /bin/busybox, one symlink per applet, the
usual empty mount points and /etc/passwd. The archive is an OCI image layout (oci-layout,
index.json, blobs/sha256/...) whose index names the image with the annotations containerd's
importer reads (``io.containerd.image.name``, ``org.opencontainers.image.ref.name``).
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import tarfile
from pathlib import Path
from typing import Any

BUSYBOX = Path("/bin/busybox")
MEDIA_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_LAYER = "application/vnd.oci.image.layer.v1.tar"
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# A command that can serve as the CRI pause container: blocks forever, exits 0 on TERM/INT.
PAUSE_CMD = ["/bin/sh", "-c", "trap 'exit 0' TERM INT; while true; do sleep 3600 & wait $!; done"]
_DIRS = ("bin", "dev", "etc", "proc", "sys", "tmp", "run", "root", "var", "var/tmp")


def _applets() -> list[str]:
    listing = subprocess.run([str(BUSYBOX), "--list"], capture_output=True, text=True, check=True)
    return sorted({name for name in listing.stdout.split() if name and name != "busybox"})


def _add(tar: tarfile.TarFile, name: str, kind: bytes, *, data: bytes = b"", mode: int = 0o755,
         link: str = "") -> None:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.mtime = 0  # reproducible layer digest
    info.linkname = link
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)


def layer_tar() -> bytes:
    """The rootfs layer (uncompressed tar)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for d in _DIRS:
            _add(tar, d, tarfile.DIRTYPE, mode=0o1777 if d in ("tmp", "var/tmp") else 0o755)
        _add(tar, "bin/busybox", tarfile.REGTYPE, data=BUSYBOX.read_bytes())
        for applet in _applets():
            _add(tar, f"bin/{applet}", tarfile.SYMTYPE, link="busybox")
        _add(tar, "etc/passwd", tarfile.REGTYPE, data=b"root:x:0:0:root:/root:/bin/sh\n", mode=0o644)
        _add(tar, "etc/group", tarfile.REGTYPE, data=b"root:x:0:\n", mode=0o644)
    return buf.getvalue()


def _blob(blobs: dict[str, bytes], data: bytes, media_type: str) -> dict[str, Any]:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    blobs[digest] = data
    return {"mediaType": media_type, "digest": digest, "size": len(data)}


def _json(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def build_archive(dest: Path, name: str, cmd: list[str] | None = None) -> Path:
    """Write an OCI image layout tar for image reference ``name`` (e.g.
    ``docker.io/library/ocibox:t1``) whose default command is ``cmd`` (PAUSE_CMD if None)."""
    blobs: dict[str, bytes] = {}
    layer = layer_tar()
    layer_desc = _blob(blobs, layer, MEDIA_LAYER)
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Env": [PATH_ENV], "Cmd": cmd or PAUSE_CMD, "WorkingDir": "/"},
        "rootfs": {"type": "layers", "diff_ids": [layer_desc["digest"]]},
        "history": [{"created_by": "tests/engines/oci_image.py (busybox-static)"}],
    }
    manifest = {
        "schemaVersion": 2,
        "mediaType": MEDIA_MANIFEST,
        "config": _blob(blobs, _json(config), MEDIA_CONFIG),
        "layers": [layer_desc],
    }
    manifest_desc = _blob(blobs, _json(manifest), MEDIA_MANIFEST)
    manifest_desc["platform"] = {"architecture": "amd64", "os": "linux"}
    manifest_desc["annotations"] = {
        "io.containerd.image.name": name,
        "org.opencontainers.image.ref.name": name.rsplit(":", 1)[-1],
    }
    index = {"schemaVersion": 2, "mediaType": MEDIA_INDEX, "manifests": [manifest_desc]}

    with tarfile.open(dest, mode="w") as tar:
        _add(tar, "oci-layout", tarfile.REGTYPE, data=_json({"imageLayoutVersion": "1.0.0"}), mode=0o644)
        _add(tar, "index.json", tarfile.REGTYPE, data=_json(index), mode=0o644)
        _add(tar, "blobs", tarfile.DIRTYPE)
        _add(tar, "blobs/sha256", tarfile.DIRTYPE)
        for digest, data in blobs.items():
            _add(tar, f"blobs/sha256/{digest.split(':', 1)[1]}", tarfile.REGTYPE, data=data, mode=0o644)
    return dest
