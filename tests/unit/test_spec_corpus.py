"""The config corpus: valid configs in the shapes real callers send, and broken ones,
each with the exact one-line message (file, JSON path, reason) we must print.

Other spec/schema tests import VALID_CONFIGS / INVALID_CONFIGS from here.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable

import pytest

from ociruntime.errors import ConfigError
from ociruntime.spec.default import default_config
from ociruntime.spec.load import parse_config

Mutation = Callable[[dict], object]

DOCKER_CAPS = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
    "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL",
    "CAP_AUDIT_WRITE",
]
ALL_CAPS = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID",
    "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
]
MASKED = ["/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
          "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware"]
READONLY = ["/proc/asound", "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def _standard_mounts() -> list[dict]:
    return [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
    ]


def runtime_tools_config() -> dict:
    """The shape of runtime-tools' default generator (validation/util GetDefaultGenerator)."""
    return {
        "ociVersion": "1.3.0",
        "root": {"path": "rootfs"},
        "process": {
            "terminal": False,
            "user": {"uid": 0, "gid": 0},
            "args": ["/runtimetest", "--path=/"],
            "env": [PATH_ENV, "TERM=xterm"],
            "cwd": "/",
            "capabilities": {s: list(DOCKER_CAPS) for s in ("bounding", "permitted", "inheritable", "effective", "ambient")},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
        },
        "hostname": "mrsdalloway",
        "mounts": _standard_mounts(),
        "linux": {
            "resources": {"devices": [{"allow": False, "access": "rwm"}]},
            "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")],
            "maskedPaths": list(MASKED),
            "readonlyPaths": list(READONLY),
        },
    }


def containerd_config() -> dict:
    """What `ctr run` (containerd 1.6) writes, per clients-observed.md section 1.3."""
    device_rules = [{"allow": False, "access": "rwm"}] + [
        {"allow": True, "type": "c", "major": major, "minor": minor, "access": "rwm"}
        for major, minor in ((1, 3), (1, 8), (1, 7), (5, 0), (1, 5), (1, 9), (5, 1), (136, -1), (5, 2), (10, 200))
    ]
    return {
        "ociVersion": "1.1.0",
        "process": {
            "user": {"uid": 0, "gid": 0, "additionalGids": [0, 10]},
            "args": ["sh", "-c", "echo hello"],
            "env": [PATH_ENV],
            "cwd": "/",
            "capabilities": {s: list(DOCKER_CAPS) for s in ("bounding", "effective", "permitted")},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": True,
        },
        "root": {"path": "rootfs"},
        "mounts": _standard_mounts()[:4] + [
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/run", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        ],
        "linux": {
            "resources": {"devices": device_rules, "cpu": {"shares": 1024}},
            "cgroupsPath": "/rtclients/t4",
            "namespaces": [{"type": t} for t in ("pid", "ipc", "uts", "mount", "network")],
            "maskedPaths": list(MASKED),
            "readonlyPaths": list(READONLY),
        },
    }


def podman_config() -> dict:
    """What podman 4.3 hands conmon, per clients-observed.md section 2.2."""
    cid = "4f7a1c0de2b94c8e9d0a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6"
    userdata = f"/var/lib/containers/storage/overlay-containers/{cid}/userdata"
    return {
        "ociVersion": "1.0.2-dev",
        "process": {
            "user": {"uid": 0, "gid": 0, "umask": 18, "additionalGids": [0, 1, 2, 3, 4, 6, 10, 11, 20, 26, 27]},
            "args": ["sleep", "1000"],
            "env": [PATH_ENV, "TERM=xterm", "container=podman", f"HOSTNAME={cid[:12]}", "HOME=/root"],
            "cwd": "/",
            "capabilities": {s: list(DOCKER_CAPS) for s in ("bounding", "effective", "permitted")},
            "rlimits": [
                {"type": "RLIMIT_NOFILE", "hard": 1048576, "soft": 1048576},
                {"type": "RLIMIT_NPROC", "hard": 1048576, "soft": 1048576},
            ],
            "oomScoreAdj": 0,
        },
        "root": {"path": f"/var/lib/containers/storage/overlay/{cid}/merged"},
        "hostname": cid[:12],
        "mounts": _standard_mounts() + [
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ["rprivate", "nosuid", "noexec", "nodev", "relatime", "ro"]},
            {"destination": "/etc/hostname", "type": "bind", "source": f"{userdata}/hostname", "options": ["bind", "rprivate"]},
            {"destination": "/etc/hosts", "type": "bind", "source": f"{userdata}/hosts", "options": ["bind", "rprivate"]},
            {"destination": "/run/.containerenv", "type": "bind", "source": f"{userdata}/.containerenv",
             "options": ["bind", "rprivate"]},
        ],
        "annotations": {
            "io.container.manager": "libpod",
            "io.podman.annotations.autoremove": "FALSE",
            "org.opencontainers.image.stopSignal": "15",
        },
        "linux": {
            "sysctl": {"net.ipv4.ping_group_range": "0 0"},
            "resources": {"devices": [{"allow": False, "access": "rwm"}], "pids": {"limit": 2048}},
            "cgroupsPath": f"/libpod_parent/libpod-{cid}",
            "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")],
            "seccomp": {
                "defaultAction": "SCMP_ACT_ERRNO",
                "defaultErrnoRet": 38,
                "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
                "syscalls": [
                    {"names": ["read", "write", "exit_group"], "action": "SCMP_ACT_ALLOW"},
                    {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                     "args": [{"index": 0, "value": 4294967295, "op": "SCMP_CMP_EQ"}]},
                    {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
                     "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]},
                    {"names": ["bdflush"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
                ],
            },
            "maskedPaths": list(MASKED) + ["/sys/fs/selinux", "/sys/dev/block"],
            "readonlyPaths": list(READONLY),
        },
    }


def _with(build: Callable[[], dict], mutation: Mutation) -> dict:
    config = build()
    mutation(config)
    return config


def _set(path: str, value: object) -> Mutation:
    """A mutation that sets a dotted path (numeric parts index lists), creating objects."""
    parts = [int(p) if p.isdigit() else p for p in path.split(".")]

    def apply(config: dict) -> None:
        node = config
        for part in parts[:-1]:
            if isinstance(part, str) and part not in node:
                node[part] = {}
            node = node[part]
        node[parts[-1]] = copy.deepcopy(value)

    return apply


def _del(path: str) -> Mutation:
    parts = [int(p) if p.isdigit() else p for p in path.split(".")]

    def apply(config: dict) -> None:
        node = config
        for part in parts[:-1]:
            node = node[part]
        del node[parts[-1]]

    return apply


def _both(*mutations: Mutation) -> Mutation:
    def apply(config: dict) -> None:
        for mutation in mutations:
            mutation(config)

    return apply


def _no_ns(*types: str) -> Mutation:
    def apply(config: dict) -> None:
        config["linux"]["namespaces"] = [ns for ns in config["linux"]["namespaces"] if ns["type"] not in types]

    return apply


def _add_ns(ns_type: str, **extra: str) -> Mutation:
    def apply(config: dict) -> None:
        config["linux"]["namespaces"].append({"type": ns_type, **extra})

    return apply


RT = runtime_tools_config
USERNS_MAPS = _both(
    _add_ns("user"),
    _set("linux.uidMappings", [{"containerID": 0, "hostID": 1000, "size": 65536}]),
    _set("linux.gidMappings", [{"containerID": 0, "hostID": 1000, "size": 65536}]),
)

# name -> config document. Every one must load.
VALID_CONFIGS: dict[str, dict] = {
    "minimal": {"ociVersion": "1.3.0", "root": {"path": "rootfs"}, "process": {"cwd": "/", "args": ["sh"]}},
    "spec-default": default_config(),
    "spec-default-rootless": default_config(rootless=True),
    "runtime-tools-default": RT(),
    "containerd-ctr": containerd_config(),
    "podman": podman_config(),
    "misc-props-unknown-property": _with(RT, _set("unknown", {"nested": [1, 2.5, None]})),
    "misc-props-unknown-annotation": _with(RT, _set("annotations", {"org.opencontainers.runtime-tools.x": "y"})),
    "unknown-property-in-process": _with(RT, _set("process.futureField", True)),
    "user-namespace": _with(RT, USERNS_MAPS),
    "user-namespace-several-ranges": _with(RT, _both(
        _add_ns("user"),
        _set("linux.uidMappings", [{"containerID": 0, "hostID": 1000, "size": 1}, {"containerID": 1, "hostID": 100000, "size": 65535}]),
        _set("linux.gidMappings", [{"containerID": 0, "hostID": 1000, "size": 1}, {"containerID": 1, "hostID": 100000, "size": 65535}]),
    )),
    "user-namespace-joined-by-path": _with(RT, _add_ns("user", path="/proc/1/ns/user")),
    "namespace-paths": _with(RT, _set("linux.namespaces", [
        {"type": "pid", "path": "/proc/1/ns/pid"}, {"type": "network", "path": "/var/run/netns/a"},
        {"type": "ipc"}, {"type": "uts"}, {"type": "mount"},
    ])),
    "all-namespaces": _with(RT, _both(USERNS_MAPS, _add_ns("cgroup"), _add_ns("time"),
                                      _set("linux.timeOffsets", {"monotonic": {"secs": 3600, "nanosecs": 1}, "boottime": {"secs": -60}}))),
    "no-namespaces-no-hostname": _with(RT, _both(_set("linux.namespaces", []), _del("hostname"),
                                                 _del("linux.maskedPaths"), _del("linux.readonlyPaths"))),
    "domainname": _with(RT, _set("domainname", "example.org")),
    "sysctl-namespaced": _with(RT, _set("linux.sysctl", {
        "kernel.shmmax": "4096", "fs.mqueue.msg_max": "10", "net.ipv4.ip_forward": "1",
        "net/ipv4/conf/eno2.100/rp_filter": "0", "kernel.domainname": "example.org",
    })),
    "all-capabilities": _with(RT, _set("process.capabilities", {s: list(ALL_CAPS) for s in ("bounding", "effective", "inheritable", "permitted", "ambient")})),
    "no-capabilities": _with(RT, _set("process.capabilities", {})),
    "rlimits": _with(RT, _set("process.rlimits", [
        {"type": "RLIMIT_NOFILE", "soft": 3000, "hard": 4000}, {"type": "RLIMIT_CORE", "soft": 0, "hard": 18446744073709551615},
        {"type": "RLIMIT_NPROC", "soft": 100, "hard": 100},
    ])),
    "oom-score-adj-extremes": _with(RT, _set("process.oomScoreAdj", -1000)),
    "umask": _with(RT, _set("process.user.umask", 0o777)),
    "hooks": _with(RT, _set("hooks", {kind: [{"path": "/bin/true", "args": ["true", kind], "env": ["A=b"], "timeout": 5}]
                                       for kind in ("prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop")})),
    "devices": _with(RT, _set("linux.devices", [
        {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 438, "uid": 0, "gid": 0},
        {"path": "/dev/sda", "type": "b", "major": 8, "minor": 0},
        {"path": "/dev/ubuf", "type": "u", "major": 10, "minor": 1},
        {"path": "/dev/fifo", "type": "p"},
        {"path": "/srv/outside-dev", "type": "c", "major": 1, "minor": 3},
    ])),
    "cgroups-everything": _with(RT, _set("linux.resources", {
        "devices": [{"allow": False, "access": "rwm"}, {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rw"},
                    {"allow": True, "type": "a"}, {"allow": True, "type": "b", "major": 8}],
        "memory": {"limit": 536870912, "reservation": 536870912, "swap": -1, "kernel": -1, "kernelTCP": -1,
                   "swappiness": 0, "disableOOMKiller": False, "useHierarchy": True, "checkBeforeUpdate": True},
        "cpu": {"shares": 1024, "quota": 1000000, "burst": 1000, "period": 500000, "realtimeRuntime": 950000,
                "realtimePeriod": 1000000, "cpus": "2-3", "mems": "0-7", "idle": 0},
        "pids": {"limit": -1},
        "blockIO": {"weight": 10, "leafWeight": 10, "weightDevice": [{"major": 8, "minor": 0, "weight": 500, "leafWeight": 300}],
                    "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 600}],
                    "throttleWriteIOPSDevice": [{"major": 8, "minor": 16, "rate": 300}]},
        "hugepageLimits": [{"pageSize": "2MB", "limit": 9223372036854772736}],
        "network": {"classID": 1048577, "priorities": [{"name": "eth0", "priority": 500}]},
        "rdma": {"mlx5_1": {"hcaHandles": 3, "hcaObjects": 10000}},
        "unified": {"io.max": "259:0 rbps=2097152", "memory.high": "max"},
    })),
    "pids-without-limit": _with(RT, _set("linux.resources.pids", {})),
    "rootfs-propagation-and-readonly": _with(RT, _both(_set("linux.rootfsPropagation", "slave"), _set("root.readonly", True))),
    "relative-mount-destination": _with(RT, lambda c: c["mounts"].append({"destination": "data", "type": "tmpfs", "source": "tmpfs"})),
    "idmapped-mount": _with(RT, _both(USERNS_MAPS, lambda c: c["mounts"].append({
        "destination": "/mnt", "type": "bind", "source": "/srv", "options": ["rbind", "idmap"],
        "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 65536}],
        "gidMappings": [{"containerID": 0, "hostID": 1000, "size": 65536}]}))),
    "scheduler-and-io-priority": _with(RT, _both(
        _set("process.scheduler", {"policy": "SCHED_DEADLINE", "runtime": 10000000, "deadline": 20000000, "period": 30000000,
                                   "flags": ["SCHED_FLAG_RESET_ON_FORK"]}),
        _set("process.ioPriority", {"class": "IOPRIO_CLASS_BE", "priority": 7}),
    )),
    "scheduler-fifo": _with(RT, _set("process.scheduler", {"policy": "SCHED_FIFO", "priority": 50, "nice": -20})),
    "personality-memory-policy-rdt": _with(RT, _both(
        _set("linux.personality", {"domain": "LINUX32", "flags": []}),
        _set("linux.memoryPolicy", {"mode": "MPOL_INTERLEAVE", "nodes": "0-3", "flags": ["MPOL_F_STATIC_NODES"]}),
        _set("linux.intelRdt", {"closID": "guaranteed_group", "l3CacheSchema": "L3:0=7f0;1=1f", "memBwSchema": "MB:0=20;1=70",
                                "enableMonitoring": True}),
    )),
    "memory-policy-preferred-local": _with(RT, _set("linux.memoryPolicy", {"mode": "MPOL_PREFERRED"})),
    "memory-policy-default": _with(RT, _set("linux.memoryPolicy", {"mode": "MPOL_DEFAULT", "nodes": ""})),
    "terminal-console-size": _with(RT, _both(_set("process.terminal", True), _set("process.consoleSize", {"height": 25, "width": 80}))),
    "exec-cpu-affinity": _with(RT, _set("process.execCPUAffinity", {"initial": "0-3,7", "final": "0"})),
    "net-devices": _with(RT, _set("linux.netDevices", {"eth1": {"name": "net0"}, "ens4": {}})),
    "selinux-apparmor-labels": _with(RT, _both(_set("process.selinuxLabel", "system_u:system_r:svirt_lxc_net_t:s0:c124,c675"),
                                             _set("process.apparmorProfile", "acme_secure_profile"),
                                             _set("linux.mountLabel", "system_u:object_r:svirt_sandbox_file_t:s0:c715,c811"))),
    "seccomp-notify": _with(RT, _set("linux.seccomp", {"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/run/seccomp.sock",
                                                        "listenerMetadata": "x", "flags": ["SECCOMP_FILTER_FLAG_LOG"],
                                                        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]})),
    "other-platform-sections-ignored": _with(RT, _set("solaris", {"milestone": "svc:/milestone/container:default",
                                                                  "anet": [{"linkname": "net0"}]})),
    "version-1.0.0": _with(RT, _set("ociVersion", "1.0.0")),
    "version-prerelease-build": _with(RT, _set("ociVersion", "1.2.1-rc.1+build.5")),
    "integral-float-number": _with(RT, _set("process.user.uid", 0.0)),
    "empty-env-value": _with(RT, _set("process.env", [PATH_ENV, "EMPTY="])),
}

# name -> (config JSON text or document, expected message). Ordered by category.
INVALID_CONFIGS: dict[str, tuple[object, str]] = {
    # --- not JSON -----------------------------------------------------------------
    "not-json": ("{", "config.json: invalid JSON at line 1, column 2: Expecting property name enclosed in double quotes"),
    "json-trailing-garbage": ('{"ociVersion": "1.3.0"}\nx', "config.json: invalid JSON at line 2, column 1: Extra data"),
    "json-nan": ('{"ociVersion": "1.3.0", "x": NaN}', "config.json: invalid JSON: NaN is not valid JSON"),
    "json-not-utf8": (b'{"ociVersion": "\xff"}', "config.json: not valid UTF-8 at byte 16"),
    "json-empty": ("", "config.json: invalid JSON at line 1, column 1: Expecting value"),
    # --- wrong types ----------------------------------------------------------------
    "top-level-array": ("[]", "config.json: [] is not an object"),
    "ociVersion-number": (_with(RT, _set("ociVersion", 1)), "config.json: ociVersion: 1 is not a string"),
    "cwd-number": (_with(RT, _set("process.cwd", 5)), "config.json: process.cwd: 5 is not a string"),
    "args-string": (_with(RT, _set("process.args", "sh")), 'config.json: process.args: "sh" is not an array'),
    "args-item-number": (_with(RT, _set("process.args", ["sh", 1])), "config.json: process.args[1]: 1 is not a string"),
    "terminal-string": (_with(RT, _set("process.terminal", "yes")), 'config.json: process.terminal: "yes" is not a boolean'),
    "uid-negative": (_with(RT, _set("process.user.uid", -1)), "config.json: process.user.uid: -1 is less than the minimum 0"),
    "gid-fraction": (_with(RT, _set("process.user.gid", 1.5)), "config.json: process.user.gid: 1.5 is not an integer"),
    "rlimit-soft-negative": (_with(RT, _set("process.rlimits.0.soft", -1)),
                             "config.json: process.rlimits[0].soft: -1 is less than the minimum 0"),
    "rlimit-hard-too-big": (_with(RT, _set("process.rlimits.0.hard", 18446744073709551616)),
                            "config.json: process.rlimits[0].hard: 18446744073709551616 is greater than the maximum 18446744073709551615"),
    "annotation-value-number": (_with(RT, _set("annotations", {"com.example.x": 1})),
                                'config.json: annotations["com.example.x"]: 1 is not a string'),
    "sysctl-value-number": (_with(RT, _set("linux.sysctl", {"kernel.shmmax": 4096})),
                            'config.json: linux.sysctl["kernel.shmmax"]: 4096 is not a string'),
    "mounts-object": (_with(RT, _set("mounts", {})), "config.json: mounts: {} is not an array"),
    "hook-timeout-zero": (_with(RT, _set("hooks", {"prestart": [{"path": "/bin/true", "timeout": 0}]})),
                          "config.json: hooks.prestart[0].timeout: 0 is less than the minimum 1"),
    # --- missing required fields -----------------------------------------------------
    "ociVersion-missing": (_with(RT, _del("ociVersion")), "config.json: ociVersion: is required"),
    "cwd-missing": (_with(RT, _del("process.cwd")), "config.json: process.cwd: is required"),
    "root-path-missing": (_with(RT, _set("root", {})), "config.json: root.path: is required"),
    "namespace-type-missing": (_with(RT, _set("linux.namespaces.0", {"path": "/proc/1/ns/pid"})),
                               "config.json: linux.namespaces[0].type: is required"),
    "mount-destination-missing": (_with(RT, _set("mounts.0", {"type": "proc", "source": "proc"})),
                                  "config.json: mounts[0].destination: is required"),
    "hook-path-missing": (_with(RT, _set("hooks", {"poststop": [{"args": ["x"]}]})), "config.json: hooks.poststop[0].path: is required"),
    "console-size-width-missing": (_with(RT, _set("process.consoleSize", {"height": 25})),
                                   "config.json: process.consoleSize.width: is required"),
    "root-missing": (_with(RT, _del("root")), "config.json: root: is required"),
    "process-missing": (_with(RT, _del("process")), "config.json: process: process property must not be empty"),
    "args-empty": (_with(RT, _set("process.args", [])), "config.json: process.args: args must not be empty"),
    "args-missing": (_with(RT, _del("process.args")), "config.json: process.args: args must not be empty"),
    "root-path-empty": (_with(RT, _set("root.path", "")), "config.json: root.path: must not be empty"),
    "device-major-missing": (_with(RT, _set("linux.devices", [{"path": "/dev/fuse", "type": "c", "minor": 229}])),
                             'config.json: linux.devices[0].major: is required for a "c" device'),
    "user-ns-without-gid-mappings": (_with(RT, _both(_add_ns("user"), _set("linux.uidMappings", [{"containerID": 0, "hostID": 1000, "size": 1}]))),
                                     "config.json: linux.gidMappings: user namespaces enabled, but no gid mappings found"),
    "mount-uid-mappings-alone": (_with(RT, _both(USERNS_MAPS, lambda c: c["mounts"].append(
        {"destination": "/mnt", "type": "bind", "source": "/srv", "options": ["bind", "idmap"],
         "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}]}))),
        "config.json: mounts[6].gidMappings: is required when uidMappings is set"),
    # --- unknown names / values -------------------------------------------------------
    "namespace-type-unknown": (_with(RT, _set("linux.namespaces.2.type", "foo")),
                               'config.json: linux.namespaces[2].type: "foo" is not one of pid, network, mount, ipc, uts, user, cgroup, time'),
    "rlimit-type-lowercase": (_with(RT, _set("process.rlimits.0.type", "nofile")),
                              'config.json: process.rlimits[0].type: "nofile" is not an RLIMIT_* name'),
    "rlimit-type-unknown": (_with(RT, _set("process.rlimits.0.type", "RLIMIT_TEST")),
                            'config.json: process.rlimits[0].type: unknown rlimit "RLIMIT_TEST"'),
    "capability-unknown-bounding": (_with(RT, lambda c: c["process"]["capabilities"]["bounding"].append("CAP_TEST")),
                                    'config.json: process.capabilities.bounding[14]: unknown capability "CAP_TEST"'),
    "capability-unknown-ambient": (_with(RT, _set("process.capabilities.ambient", ["CAP_KILL", "cap_chown"])),
                                   'config.json: process.capabilities.ambient[1]: unknown capability "cap_chown"'),
    "capability-unknown-inheritable": (_with(RT, _set("process.capabilities.inheritable", ["CAP_SYS_EVERYTHING"])),
                                       'config.json: process.capabilities.inheritable[0]: unknown capability "CAP_SYS_EVERYTHING"'),
    "rootfs-propagation-unknown": (_with(RT, _set("linux.rootfsPropagation", "rshared")),
                                   'config.json: linux.rootfsPropagation: "rshared" is not one of private, shared, slave, unbindable'),
    "device-type-unknown": (_with(RT, _set("linux.devices", [{"path": "/dev/x", "type": "x", "major": 1, "minor": 1}])),
                            'config.json: linux.devices[0].type: "x" is not one of c, b, u, p'),
    "seccomp-default-action-unknown": (_with(RT, _set("linux.seccomp", {"defaultAction": "SCMP_ACT_MAYBE"})),
                                       'config.json: linux.seccomp.defaultAction: "SCMP_ACT_MAYBE" is not one of SCMP_ACT_KILL, '
                                       "SCMP_ACT_KILL_PROCESS, SCMP_ACT_KILL_THREAD, SCMP_ACT_TRAP, SCMP_ACT_ERRNO, SCMP_ACT_TRACE, "
                                       "SCMP_ACT_ALLOW, SCMP_ACT_LOG, SCMP_ACT_NOTIFY"),
    "scheduler-policy-unknown": (_with(RT, _set("process.scheduler", {"policy": "SCHED_FAST"})),
                                 'config.json: process.scheduler.policy: "SCHED_FAST" is not one of SCHED_OTHER, SCHED_FIFO, '
                                 "SCHED_RR, SCHED_BATCH, SCHED_ISO, SCHED_IDLE, SCHED_DEADLINE"),
    "io-priority-class-unknown": (_with(RT, _set("process.ioPriority", {"class": "IOPRIO_CLASS_FAST", "priority": 1})),
                                  'config.json: process.ioPriority.class: "IOPRIO_CLASS_FAST" is not one of IOPRIO_CLASS_RT, '
                                  "IOPRIO_CLASS_BE, IOPRIO_CLASS_IDLE"),
    "personality-domain-unknown": (_with(RT, _set("linux.personality", {"domain": "LINUX64"})),
                                   'config.json: linux.personality.domain: "LINUX64" is not one of LINUX, LINUX32'),
    "hugepage-size-malformed": (_with(RT, _set("linux.resources.hugepageLimits", [{"pageSize": "2M", "limit": 1}])),
                                'config.json: linux.resources.hugepageLimits[0].pageSize: "2M" is not a page size like 2MB or 1GB'),
    "time-offset-unknown-clock": (_with(RT, _both(_add_ns("time"), _set("linux.timeOffsets", {"realtime": {"secs": 1}}))),
                                  'config.json: linux.timeOffsets.realtime: unknown clock "realtime": expected one of monotonic, boottime'),
    "device-rule-type-unknown": (_with(RT, _set("linux.resources.devices", [{"allow": True, "type": "p"}])),
                                 'config.json: linux.resources.devices[0].type: "p" is not one of a, c, b'),
    "device-rule-access-unknown": (_with(RT, _set("linux.resources.devices", [{"allow": True, "access": "rwx"}])),
                                   'config.json: linux.resources.devices[0].access: "rwx" is not a combination of r, w, m'),
    # --- ociVersion -------------------------------------------------------------------
    "ociVersion-invalid": (_with(RT, _set("ociVersion", "invalid")), 'config.json: ociVersion: "invalid" is not a SemVer 2.0.0 version'),
    "ociVersion-two-parts": (_with(RT, _set("ociVersion", "1.0")), 'config.json: ociVersion: "1.0" is not a SemVer 2.0.0 version'),
    "ociVersion-major-2": (_with(RT, _set("ociVersion", "2.0.0")),
                           'config.json: ociVersion: unsupported ociVersion "2.0.0": this runtime implements 1.x (up to 1.3.0)'),
    "ociVersion-major-0": (_with(RT, _set("ociVersion", "0.6.0")),
                           'config.json: ociVersion: unsupported ociVersion "0.6.0": this runtime implements 1.x (up to 1.3.0)'),
    # --- namespaces ---------------------------------------------------------------------
    "namespace-duplicate": (_with(RT, _add_ns("pid")),
                            'config.json: linux.namespaces[5].type: duplicate namespace "pid" (also at linux.namespaces[0])'),
    "namespace-path-relative": (_with(RT, _set("linux.namespaces.1.path", "netns/a")),
                                'config.json: linux.namespaces[1].path: "netns/a" is not an absolute path'),
    "uid-mappings-without-userns": (_with(RT, _set("linux.uidMappings", [{"containerID": 0, "hostID": 1000, "size": 1}])),
                                    "config.json: linux.uidMappings: User namespace mappings specified, but USER namespace isn't "
                                    "enabled in the config"),
    "uid-mapping-size-zero": (_with(RT, _both(USERNS_MAPS, _set("linux.uidMappings.0.size", 0))),
                              "config.json: linux.uidMappings[0].size: must be greater than 0"),
    "hostname-without-uts": (_with(RT, _no_ns("uts")), "config.json: hostname: unable to set hostname without a private UTS namespace"),
    "domainname-without-uts": (_with(RT, _both(_no_ns("uts"), _del("hostname"), _set("domainname", "example.org"))),
                               "config.json: domainname: unable to set domainname without a private UTS namespace"),
    "time-offsets-without-timens": (_with(RT, _set("linux.timeOffsets", {"monotonic": {"secs": 1}})),
                                    "config.json: linux.timeOffsets: time namespace offsets specified, but time namespace isn't "
                                    "enabled in the config"),
    "masked-paths-without-mountns": (_with(RT, _no_ns("mount")),
                                     "config.json: linux.maskedPaths: unable to restrict sys entries without a private MNT namespace"),
    # --- paths that must be absolute ---------------------------------------------------
    "cwd-relative": (_with(RT, _set("process.cwd", "tmp")), 'config.json: process.cwd: "tmp" is not an absolute path'),
    "hook-path-relative": (_with(RT, _set("hooks", {"createRuntime": [{"path": "/bin/true"}, {"path": "hook.sh"}]})),
                           'config.json: hooks.createRuntime[1].path: "hook.sh" is not an absolute path'),
    "device-path-relative": (_with(RT, _set("linux.devices", [{"path": "dev/fuse", "type": "c", "major": 10, "minor": 229}])),
                             'config.json: linux.devices[0].path: "dev/fuse" is not an absolute path'),
    "masked-path-relative": (_with(RT, lambda c: c["linux"]["maskedPaths"].append("proc/kcore")),
                             'config.json: linux.maskedPaths[9]: "proc/kcore" is not an absolute path'),
    "readonly-path-relative": (_with(RT, _set("linux.readonlyPaths", ["proc/sys"])),
                               'config.json: linux.readonlyPaths[0]: "proc/sys" is not an absolute path'),
    "mount-source-nul": (_with(RT, _set("mounts.0.source", "pr\0oc")), 'config.json: mounts[0].source: "pr\\u0000oc" contains a NUL byte'),
    "namespace-path-nul": (_with(RT, _set("linux.namespaces.1.path", "/proc/1/ns/net\0")),
                           'config.json: linux.namespaces[1].path: "/proc/1/ns/net\\u0000" contains a NUL byte'),
    "mount-destination-empty": (_with(RT, _set("mounts.1.destination", "")), "config.json: mounts[1].destination: must not be empty"),
    # --- rlimits --------------------------------------------------------------------------
    "rlimit-soft-above-hard": (_with(RT, _set("process.rlimits", [{"type": "RLIMIT_NOFILE", "soft": 2048, "hard": 1024}])),
                               "config.json: process.rlimits[0]: soft limit 2048 is greater than hard limit 1024"),
    "rlimit-duplicate": (_with(RT, lambda c: c["process"]["rlimits"].append({"type": "RLIMIT_NOFILE", "soft": 1, "hard": 1})),
                         'config.json: process.rlimits[1].type: duplicate rlimit "RLIMIT_NOFILE" (also at process.rlimits[0])'),
    # --- sysctl -------------------------------------------------------------------------------
    "sysctl-net-in-host-netns": (_with(RT, _both(_no_ns("network"), _set("linux.sysctl", {"net.ipv4.ip_forward": "1"}))),
                                 'config.json: linux.sysctl["net.ipv4.ip_forward"]: sysctl "net.ipv4.ip_forward" not allowed in '
                                 "host network namespace"),
    "sysctl-net-joined-host-netns": (_with(RT, _both(_set("linux.namespaces.1.path", "/proc/self/ns/net"),
                                                     _set("linux.sysctl", {"net.core.somaxconn": "1024"}))),
                                     'config.json: linux.sysctl["net.core.somaxconn"]: sysctl "net.core.somaxconn" not allowed in '
                                     "host network namespace"),
    "sysctl-ipc-without-ipcns": (_with(RT, _both(_no_ns("ipc"), _set("linux.sysctl", {"kernel.shmmax": "1"}))),
                                 'config.json: linux.sysctl["kernel.shmmax"]: sysctl "kernel.shmmax" is not allowed in the hosts '
                                 "ipc namespace"),
    "sysctl-mqueue-slash-form-without-ipcns": (_with(RT, _both(_no_ns("ipc"), _set("linux.sysctl", {"fs/mqueue/msg_max": "1"}))),
                                               'config.json: linux.sysctl["fs/mqueue/msg_max"]: sysctl "fs.mqueue.msg_max" is not '
                                               "allowed in the hosts ipc namespace"),
    "sysctl-hostname-conflict": (_with(RT, _set("linux.sysctl", {"kernel.hostname": "x"})),
                                 'config.json: linux.sysctl["kernel.hostname"]: sysctl "kernel.hostname" is not allowed as it '
                                 'conflicts with the OCI "hostname" field'),
    "sysctl-not-namespaced": (_with(RT, _set("linux.sysctl", {"vm.swappiness": "10"})),
                              'config.json: linux.sysctl["vm.swappiness"]: sysctl "vm.swappiness" is not in a separate kernel namespace'),
    "sysctl-key-traversal": (_with(RT, _set("linux.sysctl", {"net.ipv4...x": "1"})),
                             'config.json: linux.sysctl["net.ipv4...x"]: invalid sysctl name "net.ipv4...x"'),
    "sysctl-key-empty": (_with(RT, _set("linux.sysctl", {"": "1"})), 'config.json: linux.sysctl[""]: invalid sysctl name ""'),
    # --- process odds and ends -----------------------------------------------------------------
    "env-without-equals": (_with(RT, _set("process.env", [PATH_ENV, "JUSTANAME"])),
                           'config.json: process.env[1]: "JUSTANAME" is not of the form KEY=value'),
    "env-empty-name": (_with(RT, _set("process.env", ["=value"])), 'config.json: process.env[0]: "=value" has an empty variable name'),
    "umask-too-big": (_with(RT, _set("process.user.umask", 512)), "config.json: process.user.umask: 512 is not a umask: expected 0 to 511 (0777)"),
    "oom-score-adj-too-big": (_with(RT, _set("process.oomScoreAdj", 1001)), "config.json: process.oomScoreAdj: 1001 is out of range -1000..1000"),
    "oom-score-adj-too-small": (_with(RT, _set("process.oomScoreAdj", -1001)),
                                "config.json: process.oomScoreAdj: -1001 is out of range -1000..1000"),
    "scheduler-nice-out-of-range": (_with(RT, _set("process.scheduler", {"policy": "SCHED_OTHER", "nice": 20})),
                                    "config.json: process.scheduler.nice: 20 is out of range -20..19"),
    "scheduler-priority-for-other": (_with(RT, _set("process.scheduler", {"policy": "SCHED_OTHER", "priority": 5})),
                                     "config.json: process.scheduler.priority: scheduler.priority can only be specified for SchedFIFO "
                                     "or SchedRR policy"),
    "scheduler-deadline-fields-for-fifo": (_with(RT, _set("process.scheduler", {"policy": "SCHED_FIFO", "runtime": 5})),
                                           "config.json: process.scheduler.runtime: scheduler runtime/deadline/period can only be "
                                           "specified for SchedDeadline policy"),
    "io-priority-out-of-range": (_with(RT, _set("process.ioPriority", {"class": "IOPRIO_CLASS_RT", "priority": 8})),
                                 "config.json: process.ioPriority.priority: 8 is out of range 0..7"),
    "annotation-key-empty": (_with(RT, _set("annotations", {"": "x"})), 'config.json: annotations[""]: annotation key must not be empty'),
    "personality-flag": (_with(RT, _set("linux.personality", {"domain": "LINUX", "flags": ["ADDR_NO_RANDOMIZE"]})),
                         'config.json: linux.personality.flags[0]: unsupported personality flag "ADDR_NO_RANDOMIZE": '
                         "no flags are supported"),
    "memory-policy-bind-without-nodes": (_with(RT, _set("linux.memoryPolicy", {"mode": "MPOL_BIND"})),
                                         "config.json: linux.memoryPolicy.nodes: MPOL_BIND needs at least one node"),
    "memory-policy-local-with-nodes": (_with(RT, _set("linux.memoryPolicy", {"mode": "MPOL_LOCAL", "nodes": "0"})),
                                       "config.json: linux.memoryPolicy.nodes: MPOL_LOCAL takes no nodes"),
    "memory-policy-bad-node-list": (_with(RT, _set("linux.memoryPolicy", {"mode": "MPOL_INTERLEAVE", "nodes": "3-1"})),
                                    'config.json: linux.memoryPolicy.nodes: "3-1" is not a node list like 0-3,7'),
    "pids-limit-below-minus-one": (_with(RT, _set("linux.resources.pids", {"limit": -2})),
                                   "config.json: linux.resources.pids.limit: -2 is not a pids limit: expected -1 (no limit) or more"),
}


def _text(document: object) -> str | bytes:
    return document if isinstance(document, (str, bytes)) else json.dumps(document)


@pytest.mark.parametrize("name", sorted(VALID_CONFIGS))
def test_valid_config_loads(name: str) -> None:
    document = copy.deepcopy(VALID_CONFIGS[name])
    assert parse_config(json.dumps(document)) == document


@pytest.mark.parametrize("name", sorted(INVALID_CONFIGS))
def test_invalid_config_message(name: str) -> None:
    document, expected = INVALID_CONFIGS[name]
    with pytest.raises(ConfigError) as info:
        parse_config(_text(document))
    message = str(info.value)
    assert message == expected
    assert "\n" not in message
    assert info.value.file == "config.json"
    assert message.startswith("config.json: " + (info.value.path + ": " if info.value.path else ""))


def test_corpus_is_large_enough() -> None:
    assert len(INVALID_CONFIGS) >= 40
    assert len(VALID_CONFIGS) >= 20


def test_process_may_be_absent_when_not_creating() -> None:
    document = runtime_tools_config()
    del document["process"]
    assert "process" not in parse_config(json.dumps(document), require_process=False)
