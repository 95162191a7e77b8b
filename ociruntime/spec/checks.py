"""Semantic checks of a schema-valid config, in the style of runc's validator.go.

The schema has already vouched for structure and types, so each check may index
freely. Every check is a small named function that raises ConfigError with the JSON
path of the offending value; the lists at the bottom fix the order they run in.
Wording follows runc where callers or users know runc's text.
"""

from __future__ import annotations

import os

from ociruntime.errors import ConfigError
from ociruntime.spec.names import (
    CAPABILITIES,
    CAPABILITY_SETS,
    DEVICE_RULE_TYPES,
    NAMESPACE_TYPES,
    RLIMITS,
    TIME_NAMESPACE_CLOCKS,
)
from ociruntime.spec.paths import format_path, quote

TYPE_CHECKING = False  # typing costs ~5 ms to import; annotations here are strings anyway
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import NoReturn

    JsonPath = tuple[str | int, ...]
    SpecCheck = Callable[[dict, str], None]
    PartCheck = Callable[[dict, JsonPath, str], None]

SUPPORTED_MAJOR = 1
HOOK_KINDS = ("prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop")

# Sysctls that belong to the IPC namespace (runc's list; fs.mqueue.* as well).
IPC_SYSCTLS = frozenset(
    {
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    }
)



def fail(file: str, path: JsonPath, reason: str) -> NoReturn:
    raise ConfigError(format_path(path), reason, file=file)


def require_absolute(file: str, where: JsonPath, path: str) -> None:
    """An absolute path that a syscall can take (no NUL byte)."""
    if not path.startswith("/"):
        fail(file, where, f"{quote(path)} is not an absolute path")
    require_usable_path(file, where, path)


def require_usable_path(file: str, where: JsonPath, path: str) -> None:
    if "\0" in path:
        fail(file, where, f"{quote(path)} contains a NUL byte")


# --- helpers over the parsed document -----------------------------------------------


def _linux(spec: dict) -> dict:
    return spec.get("linux") or {}


def _namespaces(spec: dict) -> list[dict]:
    return _linux(spec).get("namespaces") or []


def namespace_index(spec: dict, ns_type: str) -> int | None:
    """Index of the entry of that type in linux.namespaces, or None when it is shared."""
    for index, ns in enumerate(_namespaces(spec)):
        if ns.get("type") == ns_type:
            return index
    return None


def _has_namespace(spec: dict, ns_type: str) -> bool:
    return namespace_index(spec, ns_type) is not None


# --- whole-config checks -------------------------------------------------------------


_SEMVER_CHARS = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-")


def _numeric(part: str) -> bool:
    return part.isascii() and part.isdigit()


def _semver_major(version: str) -> int | None:
    """The major version of a SemVer 2.0.0 string (semver.org grammar), None if it is not
    one. Plain string work: `re` costs ~5 ms to import on every create."""
    core, plus, build = version.partition("+")
    core, dash, pre = core.partition("-")
    numbers = core.split(".")
    if len(numbers) != 3 or not all(_numeric(n) and (n == "0" or n[0] != "0") for n in numbers):
        return None
    if dash and not all(i and _SEMVER_CHARS.issuperset(i) and not (_numeric(i) and len(i) > 1 and i[0] == "0")
                        for i in pre.split(".")):
        return None
    if plus and not all(i and _SEMVER_CHARS.issuperset(i) for i in build.split(".")):
        return None
    return int(numbers[0])


def check_oci_version(spec: dict, file: str) -> None:
    """ociVersion is SemVer 2.0.0 (config.md) with a major version we implement."""
    version = spec["ociVersion"]
    major = _semver_major(version)
    if major is None:
        fail(file, ("ociVersion",), f"{quote(version)} is not a SemVer 2.0.0 version")
    if major != SUPPORTED_MAJOR:
        fail(file, ("ociVersion",), f"unsupported ociVersion {quote(version)}: this runtime implements 1.x (up to 1.3.0)")


def check_root(spec: dict, file: str) -> None:
    """root is REQUIRED on Linux (config.md "Root") and its path must not be empty."""
    root = spec.get("root")
    if root is None:
        fail(file, ("root",), "is required")
    if not root["path"]:
        fail(file, ("root", "path"), "must not be empty")
    require_usable_path(file, ("root", "path"), root["path"])


def check_process_present(spec: dict, file: str) -> None:
    """create needs a process (runc's wording).

    The spec only requires it when `start` is called; runtime-tools' `start` test expects
    create to succeed without one. runc and crun refuse at create, and so do we.
    """
    if spec.get("process") is None:
        fail(file, ("process",), "process property must not be empty")


def check_process(spec: dict, file: str) -> None:
    process = spec.get("process")
    if process is not None:
        run_process_checks(process, ("process",), file)


def check_namespaces(spec: dict, file: str) -> None:
    """No duplicate types (config-linux.md); a `path` must be absolute."""
    seen: dict[str, int] = {}
    for index, ns in enumerate(_namespaces(spec)):
        ns_type = ns["type"]
        if ns_type in seen:
            first = format_path(("linux", "namespaces", seen[ns_type]))
            fail(file, ("linux", "namespaces", index, "type"), f"duplicate namespace {quote(ns_type)} (also at {first})")
        seen[ns_type] = index
        path = ns.get("path")
        if path is not None:
            require_absolute(file, ("linux", "namespaces", index, "path"), path)


def check_id_mappings(spec: dict, file: str) -> None:
    """uid/gidMappings need a user namespace; a new user namespace needs both."""
    linux = _linux(spec)
    uid_maps = linux.get("uidMappings")
    gid_maps = linux.get("gidMappings")
    user_index = namespace_index(spec, "user")
    if user_index is None:
        if uid_maps or gid_maps:
            which = "uidMappings" if uid_maps else "gidMappings"
            fail(file, ("linux", which), "User namespace mappings specified, but USER namespace isn't enabled in the config")
        return
    for name, maps in (("uidMappings", uid_maps), ("gidMappings", gid_maps)):
        for index, mapping in enumerate(maps or []):
            if mapping["size"] == 0:
                fail(file, ("linux", name, index, "size"), "must be greater than 0")
    if "path" in _namespaces(spec)[user_index]:
        return  # joining an existing user namespace: its mappings are already set
    if not uid_maps:
        fail(file, ("linux", "uidMappings"), "user namespaces enabled, but no uid mappings found")
    if not gid_maps:
        fail(file, ("linux", "gidMappings"), "user namespaces enabled, but no gid mappings found")


def check_uts(spec: dict, file: str) -> None:
    """hostname/domainname need a UTS namespace (runc's wording)."""
    if _has_namespace(spec, "uts"):
        return
    for field in ("hostname", "domainname"):
        if spec.get(field):
            fail(file, (field,), f"unable to set {field} without a private UTS namespace")


def check_time_offsets(spec: dict, file: str) -> None:
    """timeOffsets need a time namespace and name only clocks it can offset."""
    offsets = _linux(spec).get("timeOffsets")
    if offsets is None:
        return
    if not _has_namespace(spec, "time"):
        fail(file, ("linux", "timeOffsets"), "time namespace offsets specified, but time namespace isn't enabled in the config")
    for clock in offsets:
        if clock not in TIME_NAMESPACE_CLOCKS:
            fail(file, ("linux", "timeOffsets", clock), f"unknown clock {quote(clock)}: expected one of {', '.join(TIME_NAMESPACE_CLOCKS)}")


def check_masked_and_readonly_paths(spec: dict, file: str) -> None:
    """Absolute paths (config-linux.md); they only make sense in a private mount namespace."""
    linux = _linux(spec)
    for field in ("maskedPaths", "readonlyPaths"):
        paths = linux.get(field) or []
        for index, path in enumerate(paths):
            require_absolute(file, ("linux", field, index), path)
        if paths and not _has_namespace(spec, "mount"):
            fail(file, ("linux", field), "unable to restrict sys entries without a private MNT namespace")


def _normalise_sysctl(key: str) -> str:
    """sysctl.d(5): a key may use '/' as the separator; then '.' is literal inside a part."""
    first = min((i for i in (key.find("."), key.find("/")) if i >= 0), default=-1)
    if first == -1 or key[first] == ".":
        return key
    return key.translate(str.maketrans("./", "/."))


def _valid_sysctl_name(name: str) -> bool:
    """Dotted name whose parts are real path components under /proc/sys (a '/' inside a
    part stands for a literal '.', as in sysctl.d(5))."""
    return all(
        part and "\0" not in part and part.replace("/", ".") not in (".", "..") for part in name.split(".")
    )


def _is_host_netns(path: str) -> bool:
    here = os.stat("/proc/self/ns/net")
    there = os.stat(path)
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)


def check_sysctl(spec: dict, file: str) -> None:
    """Only namespaced sysctls, and only when the container has that namespace (runc's rules)."""
    sysctl = _linux(spec).get("sysctl") or {}
    for key in sysctl:
        where = ("linux", "sysctl", key)
        name = _normalise_sysctl(key)
        if not _valid_sysctl_name(name):
            fail(file, where, f"invalid sysctl name {quote(key)}")
        if name in IPC_SYSCTLS or name.startswith("fs.mqueue."):
            if not _has_namespace(spec, "ipc"):
                fail(file, where, f"sysctl {quote(name)} is not allowed in the hosts ipc namespace")
            continue
        if name.startswith("net."):
            net_index = namespace_index(spec, "network")
            if net_index is None:
                fail(file, where, f"sysctl {quote(name)} not allowed in host network namespace")
            net_path = _namespaces(spec)[net_index].get("path")
            if net_path:
                try:
                    host = _is_host_netns(net_path)
                except OSError as exc:
                    fail(file, ("linux", "namespaces", net_index, "path"), f"invalid netns path: {exc.strerror}")
                if host:
                    fail(file, where, f"sysctl {quote(name)} not allowed in host network namespace")
            continue
        if _has_namespace(spec, "uts"):
            if name == "kernel.domainname":
                continue
            if name == "kernel.hostname":
                fail(file, where, f"sysctl {quote(name)} is not allowed as it conflicts with the OCI \"hostname\" field")
        fail(file, where, f"sysctl {quote(name)} is not in a separate kernel namespace")


def check_devices(spec: dict, file: str) -> None:
    """linux.devices: absolute path; major and minor unless the type is p (config-linux.md)."""
    for index, device in enumerate(_linux(spec).get("devices") or []):
        path = device["path"]
        require_absolute(file, ("linux", "devices", index, "path"), path)
        if device["type"] != "p":
            for field in ("major", "minor"):
                if field not in device:
                    fail(file, ("linux", "devices", index, field), f"is required for a {quote(device['type'])} device")


def check_mounts(spec: dict, file: str) -> None:
    """Destinations may be relative on Linux (deprecated, taken from "/") but not empty;
    a mount's uidMappings and gidMappings come together (config.md "Mounts")."""
    for index, mount in enumerate(spec.get("mounts") or []):
        if not mount["destination"]:
            fail(file, ("mounts", index, "destination"), "must not be empty")
        for field in ("destination", "source"):
            if field in mount:
                require_usable_path(file, ("mounts", index, field), mount[field])
        has_uid = "uidMappings" in mount
        has_gid = "gidMappings" in mount
        if has_uid != has_gid:
            missing = "gidMappings" if has_uid else "uidMappings"
            present = "uidMappings" if has_uid else "gidMappings"
            fail(file, ("mounts", index, missing), f"is required when {present} is set")


def check_hooks(spec: dict, file: str) -> None:
    """Every hook path is absolute (config.md "POSIX-platform Hooks")."""
    hooks = spec.get("hooks") or {}
    for kind in HOOK_KINDS:
        for index, hook in enumerate(hooks.get(kind) or []):
            require_absolute(file, ("hooks", kind, index, "path"), hook["path"])


def check_annotations(spec: dict, file: str) -> None:
    """Annotation keys are non-empty strings (config.md "Annotations")."""
    for key in spec.get("annotations") or {}:
        if not key:
            fail(file, ("annotations", key), "annotation key must not be empty")


def check_personality(spec: dict, file: str) -> None:
    """config-linux.md "Personality": "Currently no flag values are supported"."""
    flags = (_linux(spec).get("personality") or {}).get("flags") or []
    if flags:
        fail(file, ("linux", "personality", "flags", 0), f"unsupported personality flag {quote(flags[0])}: no flags are supported")


def _is_node_list(nodes: str) -> bool:
    """set_mempolicy(2) node lists: "0-3,7"."""
    for item in nodes.split(","):
        low, _, high = item.partition("-")
        if not low.isdigit() or not low.isascii() or (high and (not high.isdigit() or not high.isascii() or int(high) < int(low))):
            return False
    return True


def check_memory_policy(spec: dict, file: str) -> None:
    """Modes that take no nodes get none; the others get a well-formed list (set_mempolicy(2))."""
    policy = _linux(spec).get("memoryPolicy")
    if policy is None:
        return
    mode = policy["mode"]
    nodes = policy.get("nodes", "")
    where = ("linux", "memoryPolicy", "nodes")
    if mode in ("MPOL_DEFAULT", "MPOL_LOCAL"):
        if nodes:
            fail(file, where, f"{mode} takes no nodes")
        return
    if not nodes:
        if mode != "MPOL_PREFERRED":
            fail(file, where, f"{mode} needs at least one node")
        return
    if not _is_node_list(nodes):
        fail(file, where, f"{quote(nodes)} is not a node list like 0-3,7")


def check_resources(spec: dict, file: str) -> None:
    resources = _linux(spec).get("resources")
    if resources is not None:
        run_resources_checks(resources, ("linux", "resources"), file)


# --- process checks (config.json's process, and exec's process.json) -----------------


def check_args(process: dict, base: JsonPath, file: str) -> None:
    """At least one entry is REQUIRED on non-Windows platforms (config.md "Process")."""
    if not process.get("args"):
        fail(file, base + ("args",), "args must not be empty")


def check_cwd(process: dict, base: JsonPath, file: str) -> None:
    cwd = process["cwd"]
    require_absolute(file, base + ("cwd",), cwd)


def check_env(process: dict, base: JsonPath, file: str) -> None:
    """Each entry is KEY=value with a non-empty key and no NUL byte (execve(2))."""
    for index, entry in enumerate(process.get("env") or []):
        key, sep, _ = entry.partition("=")
        if not sep:
            fail(file, base + ("env", index), f"{quote(entry)} is not of the form KEY=value")
        if not key:
            fail(file, base + ("env", index), f"{quote(entry)} has an empty variable name")
        if "\0" in entry:
            fail(file, base + ("env", index), f"{quote(entry)} contains a NUL byte")


def check_capabilities(process: dict, base: JsonPath, file: str) -> None:
    """Names must be Linux capabilities (runtime-tools process_capabilities_fail wants
    CAP_TEST refused; runc only warns)."""
    caps = process.get("capabilities") or {}
    for cap_set in CAPABILITY_SETS:
        for index, name in enumerate(caps.get(cap_set) or []):
            if name not in CAPABILITIES:
                fail(file, base + ("capabilities", cap_set, index), f"unknown capability {quote(name)}")


def check_rlimits(process: dict, base: JsonPath, file: str) -> None:
    """Known RLIMIT_* type, soft <= hard, no type twice (config.md "POSIX process")."""
    seen: dict[str, int] = {}
    for index, rlimit in enumerate(process.get("rlimits") or []):
        where = base + ("rlimits", index)
        kind = rlimit["type"]
        if kind not in RLIMITS:
            fail(file, where + ("type",), f"unknown rlimit {quote(kind)}")
        if kind in seen:
            first = format_path(base + ("rlimits", seen[kind]))
            fail(file, where + ("type",), f"duplicate rlimit {quote(kind)} (also at {first})")
        seen[kind] = index
        if rlimit["soft"] > rlimit["hard"]:
            fail(file, where, f"soft limit {rlimit['soft']} is greater than hard limit {rlimit['hard']}")


def check_user(process: dict, base: JsonPath, file: str) -> None:
    umask = (process.get("user") or {}).get("umask")
    if umask is not None and umask > 0o777:
        fail(file, base + ("user", "umask"), f"{umask} is not a umask: expected 0 to 511 (0777)")


def check_oom_score_adj(process: dict, base: JsonPath, file: str) -> None:
    value = process.get("oomScoreAdj")
    if value is not None and not -1000 <= value <= 1000:
        fail(file, base + ("oomScoreAdj",), f"{value} is out of range -1000..1000")


def check_scheduler(process: dict, base: JsonPath, file: str) -> None:
    """runc's rules from sched_setattr(2)."""
    scheduler = process.get("scheduler")
    if scheduler is None:
        return
    where = base + ("scheduler",)
    policy = scheduler["policy"]
    nice = scheduler.get("nice", 0)
    if not -20 <= nice <= 19:
        fail(file, where + ("nice",), f"{nice} is out of range -20..19")
    if scheduler.get("priority", 0) != 0 and policy not in ("SCHED_FIFO", "SCHED_RR"):
        fail(file, where + ("priority",), "scheduler.priority can only be specified for SchedFIFO or SchedRR policy")
    if policy != "SCHED_DEADLINE":
        for field in ("runtime", "deadline", "period"):
            if scheduler.get(field, 0) != 0:
                fail(file, where + (field,), "scheduler runtime/deadline/period can only be specified for SchedDeadline policy")


def check_io_priority(process: dict, base: JsonPath, file: str) -> None:
    io_priority = process.get("ioPriority")
    if io_priority is not None and not 0 <= io_priority["priority"] <= 7:
        fail(file, base + ("ioPriority", "priority"), f"{io_priority['priority']} is out of range 0..7")


# --- linux.resources checks (config.json and `update`'s input) -------------------------


def check_device_rules(resources: dict, base: JsonPath, file: str) -> None:
    """type is a, c or b; access a combination of r, w, m (config-linux.md)."""
    for index, rule in enumerate(resources.get("devices") or []):
        where = base + ("devices", index)
        kind = rule.get("type")
        if kind is not None and kind not in DEVICE_RULE_TYPES:
            fail(file, where + ("type",), f"{quote(kind)} is not one of {', '.join(DEVICE_RULE_TYPES)}")
        access = rule.get("access")
        if access is not None and (not set(access) <= set("rwm") or len(set(access)) != len(access)):
            fail(file, where + ("access",), f"{quote(access)} is not a combination of r, w, m")


def check_pids(resources: dict, base: JsonPath, file: str) -> None:
    limit = (resources.get("pids") or {}).get("limit")
    if limit is not None and limit < -1:
        fail(file, base + ("pids", "limit"), f"{limit} is not a pids limit: expected -1 (no limit) or more")


# --- order -------------------------------------------------------------------------------

PROCESS_CHECKS: "tuple[PartCheck, ...]" = (
    check_args,
    check_cwd,
    check_env,
    check_user,
    check_capabilities,
    check_rlimits,
    check_oom_score_adj,
    check_scheduler,
    check_io_priority,
)

RESOURCES_CHECKS: "tuple[PartCheck, ...]" = (check_device_rules, check_pids)

CONFIG_CHECKS: "tuple[SpecCheck, ...]" = (
    check_oci_version,
    check_root,
    check_process,
    check_namespaces,
    check_id_mappings,
    check_uts,
    check_time_offsets,
    check_mounts,
    check_masked_and_readonly_paths,
    check_devices,
    check_sysctl,
    check_hooks,
    check_annotations,
    check_personality,
    check_memory_policy,
    check_resources,
)


def _config_checks(require_process: bool) -> Iterator[SpecCheck]:
    yield from CONFIG_CHECKS[:2]
    if require_process:
        yield check_process_present
    yield from CONFIG_CHECKS[2:]


def run_config_checks(spec: dict, *, require_process: bool = True, file: str = "config.json") -> None:
    for check in _config_checks(require_process):
        check(spec, file)


def run_process_checks(process: dict, base: JsonPath, file: str) -> None:
    for check in PROCESS_CHECKS:
        check(process, base, file)


def run_resources_checks(resources: dict, base: JsonPath, file: str) -> None:
    for check in RESOURCES_CHECKS:
        check(resources, base, file)


__all__ = [
    "CONFIG_CHECKS",
    "NAMESPACE_TYPES",
    "PROCESS_CHECKS",
    "RESOURCES_CHECKS",
    "namespace_index",
    "run_config_checks",
    "run_process_checks",
    "run_resources_checks",
]
