"""The OCI image archive builder the engine tests import into containerd (no daemon needed)."""

from __future__ import annotations

import hashlib
import json
import tarfile
from pathlib import Path

from engines.oci_image import PAUSE_CMD, build_archive


def _blobs(archive: Path) -> tuple[dict, dict[str, bytes]]:
    with tarfile.open(archive) as tar:
        files = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]
    blobs = {"sha256:" + name.rsplit("/", 1)[1]: data for name, data in files.items() if name.startswith("blobs/")}
    assert json.loads(files["oci-layout"]) == {"imageLayoutVersion": "1.0.0"}
    return json.loads(files["index.json"]), blobs


def test_archive_is_a_consistent_oci_layout(tmp_path: Path) -> None:
    index, blobs = _blobs(build_archive(tmp_path / "img.tar", "docker.io/library/ocibox:t1"))
    for digest, data in blobs.items():
        assert digest == "sha256:" + hashlib.sha256(data).hexdigest()
    [entry] = index["manifests"]
    assert entry["annotations"]["io.containerd.image.name"] == "docker.io/library/ocibox:t1"
    assert entry["platform"] == {"architecture": "amd64", "os": "linux"}
    manifest = json.loads(blobs[entry["digest"]])
    config = json.loads(blobs[manifest["config"]["digest"]])
    [layer] = manifest["layers"]
    assert config["rootfs"]["diff_ids"] == [layer["digest"]]  # uncompressed layer: diff id = digest
    assert config["config"]["Cmd"] == PAUSE_CMD
    assert layer["size"] == len(blobs[layer["digest"]])


def test_layer_holds_busybox_and_applet_links(tmp_path: Path) -> None:
    index, blobs = _blobs(build_archive(tmp_path / "img.tar", "docker.io/library/ocibox:t2", ["sh"]))
    manifest = json.loads(blobs[index["manifests"][0]["digest"]])
    layer_path = tmp_path / "layer.tar"
    layer_path.write_bytes(blobs[manifest["layers"][0]["digest"]])
    with tarfile.open(layer_path) as layer:
        members = {m.name: m for m in layer.getmembers()}
    assert members["bin/busybox"].isfile() and members["bin/busybox"].mode & 0o111
    for applet in ("sh", "ls", "sleep", "cat", "tty"):
        assert members[f"bin/{applet}"].issym() and members[f"bin/{applet}"].linkname == "busybox"
    assert members["tmp"].mode == 0o1777
    assert json.loads(blobs[manifest["config"]["digest"]])["config"]["Cmd"] == ["sh"]
