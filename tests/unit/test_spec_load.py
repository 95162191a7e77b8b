"""load_config / load_process / load_resources: reading files and naming them in errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ociruntime.errors import ConfigError
from ociruntime.spec.load import load_config, load_process, load_resources
from unit.test_spec_corpus import containerd_config, podman_config, runtime_tools_config


def _bundle(tmp_path: Path, config: object) -> Path:
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    text = config if isinstance(config, str) else json.dumps(config, indent=2)
    (bundle / "config.json").write_text(text)
    return bundle


def _message(call) -> str:
    with pytest.raises(ConfigError) as info:
        call()
    assert "\n" not in str(info.value)
    return str(info.value)


def test_load_config_returns_the_document(tmp_path: Path) -> None:
    config = runtime_tools_config()
    assert load_config(str(_bundle(tmp_path, config))) == config


def test_bundle_missing(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    assert _message(lambda: load_config(str(missing))) == f'bundle: "{missing}" does not exist'


def test_bundle_is_a_file(tmp_path: Path) -> None:
    file = tmp_path / "file"
    file.write_text("{}")
    assert _message(lambda: load_config(str(file))) == f'bundle: "{file}" is not a directory'


def test_config_json_missing(tmp_path: Path) -> None:
    assert _message(lambda: load_config(str(tmp_path))) == f'config.json: no such file in bundle "{tmp_path}"'


def test_config_json_is_a_directory(tmp_path: Path) -> None:
    (tmp_path / "config.json").mkdir()
    assert _message(lambda: load_config(str(tmp_path))) == f'config.json: is a directory in bundle "{tmp_path}"'


def test_config_json_unreadable(tmp_path: Path) -> None:
    (tmp_path / "config.json").symlink_to("config.json")  # a loop: open fails with ELOOP, even as root
    assert _message(lambda: load_config(str(tmp_path))) == "config.json: cannot read: Too many levels of symbolic links"


def test_not_json_reports_line_and_column(tmp_path: Path) -> None:
    bundle = _bundle(tmp_path, '{\n  "ociVersion": "1.3.0",\n  "root": {"path": "rootfs"\n}\n')
    assert _message(lambda: load_config(str(bundle))) == (
        "config.json: invalid JSON at line 5, column 1: Expecting ',' delimiter")


def test_schema_error_from_file(tmp_path: Path) -> None:
    config = runtime_tools_config()
    config["process"]["cwd"] = "tmp"
    assert _message(lambda: load_config(str(_bundle(tmp_path, config)))) == (
        'config.json: process.cwd: "tmp" is not an absolute path')


def test_client_shapes_load_from_disk(tmp_path: Path) -> None:
    for index, config in enumerate((containerd_config(), podman_config())):
        directory = tmp_path / str(index)
        directory.mkdir()
        assert load_config(str(_bundle(directory, config))) == config


# --- exec's process.json ----------------------------------------------------------------

def test_load_process_valid(tmp_path: Path) -> None:
    process = runtime_tools_config()["process"] | {"terminal": True, "args": ["/bin/sh", "-c", "exit 3"]}
    path = tmp_path / "runc-process1"
    path.write_text(json.dumps(process))
    assert load_process(str(path)) == process


@pytest.mark.parametrize(
    ("process", "expected"),
    [
        ({"args": ["sh"]}, "{file}: cwd: is required"),
        ({"cwd": "tmp", "args": ["sh"]}, '{file}: cwd: "tmp" is not an absolute path'),
        ({"cwd": "/", "args": []}, "{file}: args: args must not be empty"),
        ({"cwd": "/", "args": ["sh"], "capabilities": {"effective": ["CAP_TEST"]}},
         '{file}: capabilities.effective[0]: unknown capability "CAP_TEST"'),
        ({"cwd": "/", "args": ["sh"], "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 9, "hard": 8}]},
         "{file}: rlimits[0]: soft limit 9 is greater than hard limit 8"),
        ({"cwd": "/", "args": ["sh"], "user": {"uid": "root"}}, '{file}: user.uid: "root" is not an integer'),
        ([], "{file}: [] is not an object"),
    ],
)
def test_load_process_errors_name_the_given_path(tmp_path: Path, process: object, expected: str) -> None:
    path = tmp_path / "exec-process-7"
    path.write_text(json.dumps(process))
    assert _message(lambda: load_process(str(path))) == expected.format(file=path)


def test_load_process_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "gone.json"
    assert _message(lambda: load_process(str(path))) == f"{path}: no such file"


def test_load_process_not_json(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text("{cwd: /}")
    assert _message(lambda: load_process(str(path))) == (
        f"{path}: invalid JSON at line 1, column 2: Expecting property name enclosed in double quotes")


# --- update's resources -------------------------------------------------------------------

def test_load_resources_podman_update() -> None:
    text = '{"memory":{"limit":67108864,"swap":134217728}}'
    assert load_resources(text, "/var/tmp/podman1") == {"memory": {"limit": 67108864, "swap": 134217728}}


def test_load_resources_containerd_shape() -> None:
    resources = {"cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0-1"}, "pids": {"limit": 100},
                 "memory": {"limit": 268435456}, "unified": {"memory.high": "200M"}}
    assert load_resources(json.dumps(resources).encode(), "-") == resources


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"memory": {"limit": "64m"}}', 'stdin: memory.limit: "64m" is not an integer'),
        ('{"pids": {"limit": -5}}', "stdin: pids.limit: -5 is not a pids limit: expected -1 (no limit) or more"),
        ('{"devices": [{"access": "r"}]}', "stdin: devices[0].allow: is required"),
        ('{"blockIO": {"weight": 70000}}', "stdin: blockIO.weight: 70000 is greater than the maximum 65535"),
        ("[", "stdin: invalid JSON at line 1, column 2: Expecting value"),
    ],
)
def test_load_resources_errors(text: str, expected: str) -> None:
    assert _message(lambda: load_resources(text, "stdin")) == expected
