"""Bad input: every rejection exits 1 and leaves nothing (state dir, cgroup, mount, process);
ociruntime's message is one line ``config.json: <json path>: <reason>``.

Each case runs twice: ``test_rejected_and_nothing_left`` (against runc too, where runc rejects
the input as well) and ``test_message_names_the_json_path`` (ours_only: the wording is ours).
Conventions the messages follow: a path is dotted with [i] indices (``linux.namespaces[5].type``);
a missing required field is reported at its own path with "required" in the reason; a map key
with dots is quoted or bracketed (``linux.sysctl["kernel.foo"]``, either passes here).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from helpers import leaks
from helpers.asserts import assert_config_error, assert_one_line_error
from helpers.bundle import Bundle

# Indices in the base config (tools/mkbundle.py builtin_config): 7 mounts, 5 namespaces.
NEW_MOUNT = "mounts[7]"
NEW_NS = "linux.namespaces[5]"


@dataclass
class Bad:
    name: str
    mutate: Callable[[Bundle], Any]
    paths: tuple[str, ...]
    reason: tuple[str, ...] = ()
    runc_rejects: bool = True  # false: runc 1.1.5 accepts it, so the whole case is ours_only
    extra: dict[str, Any] = field(default_factory=dict)


def _set(path: str, value: Any) -> Callable[[Bundle], None]:
    """Set a dotted path in the config (creating objects on the way)."""
    def mutate(bundle: Bundle) -> None:
        node = bundle.config
        *parents, last = path.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = value
    return mutate


def _delete(path: str) -> Callable[[Bundle], None]:
    def mutate(bundle: Bundle) -> None:
        node = bundle.config
        *parents, last = path.split(".")
        for key in parents:
            node = node[key]
        del node[last]
    return mutate


def _mount(**mount: Any) -> Callable[[Bundle], None]:
    return lambda b: b.config["mounts"].append({"source": "tmpfs", "type": "tmpfs", **mount})


def _namespace(**ns: Any) -> Callable[[Bundle], None]:
    return lambda b: b.namespaces().append(ns)


def _ns_path(ns_type: str, path: Callable[[], str]) -> Callable[[Bundle], None]:
    """Give the existing ``ns_type`` entry (index unchanged) a path to join."""
    def mutate(bundle: Bundle) -> None:
        entry = next(ns for ns in bundle.namespaces() if ns["type"] == ns_type)
        entry["path"] = path()
    return mutate


def _hook(kind: str, **hook: Any) -> Callable[[Bundle], None]:
    return lambda b: b.config.setdefault("hooks", {}).setdefault(kind, []).append(hook)


def _rlimit(**limit: Any) -> Callable[[Bundle], None]:
    return lambda b: b.process["rlimits"].append(limit)


def _user_ns_without_mappings(b: Bundle) -> None:
    b.set_namespace("user")


def _mappings_without_user_ns(b: Bundle) -> None:
    b.linux["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 1000}]
    b.linux["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 1000}]


def _missing_rootfs(b: Bundle) -> None:
    b.config["root"]["path"] = "no-such-rootfs"


def _rootfs_is_a_file(b: Bundle) -> None:
    (b.path / "a-file").write_text("")
    b.config["root"]["path"] = "a-file"


def _hostname_without_uts(b: Bundle) -> None:
    b.linux["namespaces"] = [ns for ns in b.namespaces() if ns["type"] != "uts"]
    b.config["hostname"] = "needs-uts"


def _domainname_without_uts(b: Bundle) -> None:
    _hostname_without_uts(b)
    del b.config["hostname"]
    b.config["domainname"] = "needs.uts"


CASES = [
    Bad("not-json", lambda b: b.write_raw('{"ociVersion": "1.0.2",'), ("",), ("json",)),
    Bad("json-array", lambda b: b.write_raw("[]"), ("",), ("object",)),
    Bad("missing-ociVersion", _delete("ociVersion"), ("ociVersion",), ("required",), runc_rejects=False),
    Bad("missing-root", _delete("root"), ("root",), ("required",)),
    Bad("missing-process-cwd", _delete("process.cwd"), ("process.cwd",), ("required",)),
    Bad("args-not-array", _set("process.args", "sh"), ("process.args",), ("array",)),
    Bad("terminal-not-bool", _set("process.terminal", "yes"), ("process.terminal",), ("boolean",)),
    Bad("uid-negative", _set("process.user.uid", -1), ("process.user.uid",), ("-1",)),
    Bad("annotation-not-string", _set("annotations", {"a": 1}), ("annotations.a",), ("string",)),
    Bad("empty-args", _set("process.args", []), ("process.args",), ("empty",)),
    Bad("unknown-namespace", _namespace(type="foo"), (f"{NEW_NS}.type",), ('"foo"',)),
    Bad("duplicate-namespace", _namespace(type="pid"), (NEW_NS, f"{NEW_NS}.type"), ("duplicate",)),
    Bad("relative-cwd", _set("process.cwd", "tmp"), ("process.cwd",), ('"tmp"', "absolute")),
    # A relative mount destination is not here: runtime-spec 1.3.0 allows it (taken as
    # relative to "/"), and ociruntime accepts it as runc does.
    Bad("relative-namespace-path", _ns_path("network", lambda: "proc/1/ns/net"),
        ("linux.namespaces[1].path",), ("absolute",)),
    Bad("relative-hook-path", _hook("createRuntime", path="true"), ("hooks.createRuntime[0].path",),
        ("absolute",)),
    Bad("relative-device-path", _set("linux.devices", [{"path": "dev/x", "type": "c", "major": 1, "minor": 3}]),
        ("linux.devices[0].path",), ("absolute",), runc_rejects=False),
    Bad("relative-masked-path", _set("linux.maskedPaths", ["proc/kcore"]), ("linux.maskedPaths[0]",),
        ("absolute",), runc_rejects=False),
    Bad("unknown-rlimit", _rlimit(type="RLIMIT_FOO", soft=1, hard=1), ("process.rlimits[1].type",),
        ("RLIMIT_FOO",)),
    Bad("rlimit-soft-above-hard", _rlimit(type="RLIMIT_NPROC", soft=200, hard=100),
        ("process.rlimits[1]", "process.rlimits[1].soft"), ("soft", "hard")),
    Bad("unknown-capability", lambda b: b.process["capabilities"]["bounding"].append("CAP_FOO"),
        ("process.capabilities.bounding[3]",), ("CAP_FOO",), runc_rejects=False),
    Bad("missing-rootfs", _missing_rootfs, ("root.path",), ("no-such-rootfs",)),
    Bad("rootfs-is-a-file", _rootfs_is_a_file, ("root.path",), ("directory",)),
    Bad("ociVersion-2", _set("ociVersion", "2.0.0"), ("ociVersion",), ("2.0.0",), runc_rejects=False),
    Bad("ociVersion-not-semver", _set("ociVersion", "banana"), ("ociVersion",), ("banana",),
        runc_rejects=False),
    Bad("hostname-without-uts", _hostname_without_uts, ("hostname",), ("uts",)),
    Bad("domainname-without-uts", _domainname_without_uts, ("domainname",), ("uts",), runc_rejects=False),
    Bad("unknown-mount-type", _mount(destination="/mnt", type="foofs"), (f"{NEW_MOUNT}.type", NEW_MOUNT),
        ("foofs",)),
    Bad("bad-tmpfs-option", _mount(destination="/mnt", options=["size=lots"]),
        (f"{NEW_MOUNT}.options", NEW_MOUNT), ("size=lots",)),
    Bad("sysctl-unknown-key", _set("linux.sysctl", {"kernel.no_such_knob": "1"}),
        ('linux.sysctl["kernel.no_such_knob"]', "linux.sysctl.kernel.no_such_knob"), ()),
    Bad("sysctl-not-namespaced", _set("linux.sysctl", {"vm.swappiness": "10"}),
        ('linux.sysctl["vm.swappiness"]', "linux.sysctl.vm.swappiness"), ("namespace",)),
    Bad("missing-hook-binary", _hook("createRuntime", path="/no/such/hook"),
        ("hooks.createRuntime[0].path", "hooks.createRuntime[0]"), ("/no/such/hook",)),
    Bad("user-namespace-without-mappings", _user_ns_without_mappings, ("linux.uidMappings",), ("mappings",)),
    Bad("mappings-without-user-namespace", _mappings_without_user_ns, ("linux.uidMappings",), ("user",),
        runc_rejects=False),
    Bad("unknown-device-type", _set("linux.devices", [{"path": "/dev/x", "type": "x", "major": 1, "minor": 3}]),
        ("linux.devices[0].type",), ('"x"',)),
    Bad("oom-score-adj-out-of-range", _set("process.oomScoreAdj", 5000), ("process.oomScoreAdj",), ("1000",)),
    Bad("namespace-path-missing", _ns_path("network", lambda: "/no/such/ns"),
        ("linux.namespaces[1].path",), ("/no/such/ns",)),
    Bad("namespace-path-of-wrong-type", _ns_path("uts", lambda: f"/proc/{os.getpid()}/ns/net"),
        ("linux.namespaces[3].path",), ("uts",)),
    Bad("bad-rootfs-propagation", _set("linux.rootfsPropagation", "sideways"), ("linux.rootfsPropagation",),
        ('"sideways"',)),
    Bad("time-offsets-without-time-namespace", _set("linux.timeOffsets", {"monotonic": {"secs": 1}}),
        ("linux.timeOffsets",), ("time",), runc_rejects=False),
    Bad("hook-timeout-zero", _hook("createRuntime", path="/bin/true", timeout=0),
        ("hooks.createRuntime[0].timeout",), ()),
]


def _params() -> list[Any]:
    return [pytest.param(case, id=case.name, marks=() if case.runc_rejects else pytest.mark.ours_only)
            for case in CASES]


@pytest.mark.parametrize("case", _params())
def test_rejected_and_nothing_left(runtime, bundle, container_id, leak_scope, case):
    case.mutate(bundle)
    before = sorted(os.listdir(runtime.root))
    result = runtime.create(container_id, bundle)
    assert result.returncode == 1, result.describe()
    assert sorted(os.listdir(runtime.root)) == before
    assert leaks.container_traces(leak_scope, container_id) == []
    runtime.state_result(container_id).failed("container does not exist")


@pytest.mark.ours_only
@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_message_names_the_json_path(runtime, bundle, container_id, case):
    case.mutate(bundle)
    assert_config_error(runtime.create(container_id, bundle), case.paths, *case.reason)


@pytest.mark.ours_only
@pytest.mark.parametrize("case", [c for c in CASES if c.name in ("relative-cwd", "unknown-namespace",
                                                                 "missing-rootfs")],
                         ids=["relative-cwd", "unknown-namespace", "missing-rootfs"])
def test_run_rejects_like_create(runtime, bundle, container_id, case):
    case.mutate(bundle)
    assert_config_error(runtime.run(container_id, bundle), case.paths, *case.reason)


# --- bad input outside config.json ---------------------------------------------------------

def test_missing_bundle_directory(runtime, container_id, test_dir):
    missing = test_dir / "no-such-bundle"
    result = runtime.call("create", "--bundle", missing, container_id)
    result.failed("no-such-bundle")
    runtime.state_result(container_id).failed("container does not exist")


@pytest.mark.ours_only
def test_missing_bundle_directory_message(runtime, container_id, test_dir):
    missing = test_dir / "no-such-bundle"
    assert_one_line_error(runtime.call("create", "--bundle", missing, container_id), str(missing))


def test_missing_config_json(runtime, bundle, container_id):
    bundle.write_raw("")  # stops auto-saving,
    (bundle.path / "config.json").unlink()  # so the file stays missing
    runtime.create(container_id, bundle).failed("config.json")
    runtime.state_result(container_id).failed("container does not exist")


@pytest.mark.ours_only
def test_missing_config_json_message(runtime, bundle, container_id):
    bundle.write_raw("")
    (bundle.path / "config.json").unlink()
    line = assert_one_line_error(runtime.create(container_id, bundle), "config.json")
    assert "no such file" in line.lower() or "not found" in line.lower() or "missing" in line.lower()


@pytest.mark.parametrize("bad_id", ["a/b", "../escape", "x y", "semi;colon", "new\nline"])
def test_bad_container_id_is_one_line(runtime, bundle, bad_id):
    result = runtime.create(bad_id, bundle)
    result.failed("invalid container ID format")
    assert len(result.stderr_text().splitlines()) == 1


def test_unknown_signal(runtime, bundle, container_id):
    runtime.create(container_id, bundle).ok()
    result = runtime.kill(container_id, "SIGFOO").failed("FOO")
    assert len(result.stderr_text().splitlines()) == 1
    assert runtime.status(container_id) == "created"
    runtime.delete(container_id).ok()


@pytest.mark.parametrize("sig", ["0x9", "-9", "99999", "KILLL"])
def test_malformed_signals(runtime, bundle, container_id, sig):
    runtime.create(container_id, bundle).ok()
    assert runtime.kill(container_id, sig).returncode == 1
    assert runtime.status(container_id) == "created"
    runtime.delete(container_id).ok()
