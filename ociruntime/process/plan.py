"""Everything `create` needs, computed and validated before anything is touched."""

from __future__ import annotations

import os

from ociruntime.errors import ConfigError
from ociruntime.records import Factory, record

TYPE_CHECKING = False  # `import typing` costs ~8 ms on every create
if TYPE_CHECKING:
    from typing import Any


@record
class NamespaceSpec:
    type: str
    path: str | None  # join this namespace; None means create a new one


@record
class ContainerPlan:
    container_id: str
    bundle: str
    config: dict
    state_dir: str
    namespaces: list[NamespaceSpec]
    rootfs: Any  # ociruntime.rootfs.plan.RootfsPlan
    credentials: Any  # ociruntime.security.credentials.ProcessCredentials
    seccomp: Any  # ociruntime.security.seccomp.SeccompProgram | None
    args: list[str]
    env: list[str]
    cwd: str
    hostname: str | None
    domainname: str | None
    sysctl: dict[str, str]
    uid_mappings: list[dict]
    gid_mappings: list[dict]
    time_offsets: dict[str, dict]
    hooks: dict[str, list[dict]]
    no_pivot: bool = False
    no_new_keyring: bool = False
    preserve_fds: int = 0
    extra_fds: list[int] = Factory(list)
    # process.terminal: the socket the init sends the pty master over (-1: no terminal),
    # inherited across fork and closed by the init; (rows, cols) from process.consoleSize.
    console_fd: int = -1
    console_size: tuple[int, int] | None = None
    # The init execs ociruntime-dmz before `start`, which then waits in its place (a few KB
    # instead of an interpreter): not with startContainer hooks (Python runs them after
    # `start`) nor with a filter that might refuse what the trampoline does meanwhile.
    dmz_waits: bool = False

    def new_namespace(self, ns_type: str) -> bool:
        return any(ns.type == ns_type and ns.path is None for ns in self.namespaces)

    def has_namespace(self, ns_type: str) -> bool:
        return any(ns.type == ns_type for ns in self.namespaces)


def build_plan(config: dict, *, container_id: str, bundle: str, state_dir: str, no_pivot: bool,
               no_new_keyring: bool, preserve_fds: int) -> ContainerPlan:
    from ociruntime.rootfs.plan import plan_rootfs
    from ociruntime.security.credentials import plan_credentials

    check_hook_binaries(config)
    process = config.get("process")
    if not isinstance(process, dict):
        raise ConfigError("process", "process property must not be empty")
    linux = config.get("linux") or {}
    seccomp = None
    if linux.get("seccomp") is not None:
        from ociruntime.security.seccomp_cache import compile_cached

        seccomp = compile_cached(linux["seccomp"], os.path.dirname(state_dir))
    namespaces = [NamespaceSpec(ns["type"], ns.get("path") or None) for ns in linux.get("namespaces") or []]
    hooks = {k: list(v or []) for k, v in (config.get("hooks") or {}).items() if k in HOOK_PHASES}
    return ContainerPlan(
        container_id=container_id,
        bundle=bundle,
        config=config,
        state_dir=state_dir,
        namespaces=namespaces,
        rootfs=plan_rootfs(config, bundle, no_pivot=no_pivot, host_mount_dir=state_dir),
        credentials=plan_credentials(process, in_user_namespace=any(
            ns.type == "user" for ns in namespaces)),
        seccomp=seccomp,
        args=list(process.get("args") or []),
        env=list(process.get("env") or []),
        cwd=process.get("cwd") or "/",
        hostname=config.get("hostname"),
        domainname=config.get("domainname"),
        sysctl=dict(linux.get("sysctl") or {}),
        uid_mappings=list(linux.get("uidMappings") or []),
        gid_mappings=list(linux.get("gidMappings") or []),
        time_offsets=dict(linux.get("timeOffsets") or {}),
        hooks=hooks,
        dmz_waits=not hooks.get("startContainer") and (seccomp is None or seccomp.trampoline_can_wait),
        no_pivot=no_pivot,
        no_new_keyring=no_new_keyring,
        preserve_fds=preserve_fds,
        console_size=console_size(process),
    )


def console_size(process: dict) -> tuple[int, int] | None:
    size = process.get("consoleSize") if process.get("terminal") else None
    if not size:
        return None
    return int(size.get("height", 0)), int(size.get("width", 0))


# Unknown keys under "hooks" are ignored, as the spec asks of unknown properties.
HOOK_PHASES = ("prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop")

# Hooks that run from the runtime's namespace: their binaries can be checked before
# anything is created (startContainer resolves inside the container).
_HOST_HOOKS = ("prestart", "createRuntime", "createContainer", "poststart", "poststop")


def check_hook_binaries(config: dict) -> None:
    for phase in _HOST_HOOKS:
        for index, hook in enumerate((config.get("hooks") or {}).get(phase) or []):
            path = hook.get("path", "")
            if not os.path.isfile(path):
                raise ConfigError(f"hooks.{phase}[{index}].path", f"{path}: no such file")
            if not os.access(path, os.X_OK):
                raise ConfigError(f"hooks.{phase}[{index}].path", f"{path}: not executable")


def resolve_bundle(path: str) -> str:
    return os.path.realpath(path or ".")
