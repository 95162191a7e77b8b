"""Verbs that do not run a container (spec, features, --version) and global options."""

from __future__ import annotations

import json
import re

import pytest

HOOK_KINDS = ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"]
NAMESPACES = {"cgroup", "ipc", "mount", "network", "pid", "user", "uts"}


def test_version_first_line_and_spec_line(runtime):
    lines = runtime.call("--version", root=False).ok().stdout_text().splitlines()
    assert re.fullmatch(rf"{re.escape(runtime.name)} version \S+", lines[0]), lines
    assert any(re.fullmatch(r"spec: \d+\.\d+\.\d+(-dev)?", line) for line in lines), lines


@pytest.mark.ours_only
def test_version_names_ociruntime_and_spec_1_3_0(runtime):
    lines = runtime.call("--version", root=False).ok().stdout_text().splitlines()
    assert lines[0].startswith("ociruntime version ")
    assert lines[1] == "spec: 1.3.0"


def test_features_describes_the_runtime(runtime):
    features = json.loads(runtime.call("features").ok().stdout_text())
    assert re.fullmatch(r"1\.\d+\.\d+", features["ociVersionMin"])
    assert features["ociVersionMax"].startswith("1.")
    assert set(HOOK_KINDS) <= set(features["hooks"])
    assert {"ro", "nosuid", "nodev", "noexec", "bind", "rbind"} <= set(features["mountOptions"])
    assert NAMESPACES <= set(features["linux"]["namespaces"])
    assert {"CAP_SYS_ADMIN", "CAP_KILL", "CAP_NET_BIND_SERVICE"} <= set(features["linux"]["capabilities"])


@pytest.mark.ours_only
def test_features_of_ociruntime(runtime):
    features = json.loads(runtime.call("features").ok().stdout_text())
    assert features["ociVersionMax"] == "1.3.0"
    assert "time" in features["linux"]["namespaces"]


def test_spec_writes_a_config_that_runs_on_busybox(runtime, bundle, container_id, test_dir):
    target = test_dir / "spec"
    target.mkdir()
    runtime.call("spec", cwd=target).ok()
    config = json.loads((target / "config.json").read_text())
    assert config["ociVersion"].startswith("1.")
    assert config["root"]["path"] == "rootfs"
    assert {ns["type"] for ns in config["linux"]["namespaces"]} >= {"pid", "mount"}
    # Runs on our busybox rootfs (without a console: the tests have no tty).
    config["process"]["terminal"] = False
    config["process"]["args"] = ["sh", "-c", "echo ran"]
    bundle.config = config
    result = runtime.run(container_id, bundle)
    assert result.returncode == 0 and result.stdout_text() == "ran\n", result.describe()


def test_spec_with_bundle_option(runtime, test_dir):
    target = test_dir / "elsewhere"
    target.mkdir()
    runtime.call("spec", "--bundle", target).ok()
    assert json.loads((target / "config.json").read_text())["root"]["path"] == "rootfs"


def test_spec_refuses_to_overwrite(runtime, test_dir):
    (test_dir / "config.json").write_text("{}")
    runtime.call("spec", cwd=test_dir).failed()
    assert (test_dir / "config.json").read_text() == "{}"


def test_spec_rootless_has_a_user_namespace_with_mappings(runtime, test_dir):
    runtime.call("spec", "--rootless", cwd=test_dir).ok()
    config = json.loads((test_dir / "config.json").read_text())
    assert "user" in {ns["type"] for ns in config["linux"]["namespaces"]}
    assert config["linux"]["uidMappings"] and config["linux"]["gidMappings"]


def test_root_option_with_equals_sign(runtime, container_id):
    result = runtime.call(f"--root={runtime.root}", "state", container_id, root=False)
    result.failed("container does not exist")


def test_bool_option_with_value(runtime, container_id):
    runtime.call("--rootless=false", "state", container_id).failed("container does not exist")


def test_json_log_holds_the_error(runtime, container_id, test_dir):
    log = test_dir / "log.json"
    result = runtime.call("--log", log, "--log-format", "json", "state", container_id)
    result.failed("container does not exist")
    entries = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    errors = [e for e in entries if e["level"] == "error"]
    assert errors and errors[-1]["msg"] == "container does not exist"
    assert re.match(r"\d{4}-\d\d-\d\dT", errors[-1]["time"])


@pytest.mark.parametrize("verb", ["list", "features"])
def test_verbs_without_arguments_refuse_one(runtime, verb):
    """runc's checkArgs: an extra argument is an error, never ignored."""
    runtime.call(verb, "extra").failed('requires exactly 0 argument(s)')


def test_unknown_verb_fails(runtime):
    result = runtime.call("frobnicate")
    assert result.returncode != 0, result.describe()


def test_create_options_with_equals_and_short_forms(runtime, bundle, container_id, test_dir):
    pid_file = test_dir / "eq.pid"
    runtime.call("create", f"--bundle={bundle.path}", f"--pid-file={pid_file}", container_id).ok()
    assert int(pid_file.read_text()) == runtime.state(container_id)["pid"]
    runtime.call("delete", "-f", container_id).ok()
    runtime.call("create", "-b", bundle.path, container_id).ok()
    assert runtime.state(container_id)["bundle"] == str(bundle.path)
    runtime.call("kill", "-a", container_id, "KILL").ok()
    runtime.call("delete", "--force=true", container_id).ok()
