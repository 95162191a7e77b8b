"""Compile config.json's linux.seccomp into a BPF program, in the runtime parent.

compile_seccomp() runs before any fork: every mistake in the profile is a
ConfigError naming its JSON path, and the container process only has to load
bytes (ociruntime.linux.exec.execve). Behaviour follows runc where the spec is
silent:

* SCMP_ACT_KILL means kill the thread (as SCMP_ACT_KILL_THREAD).
* SCMP_ACT_ERRNO / SCMP_ACT_TRACE return errnoRet (defaultErrnoRet for the
  default action), EPERM when it is absent.
* Syscall names libseccomp cannot resolve are ignored (assumed unknown to this
  kernel/arch); they are listed in SeccompProgram.ignored_syscalls.
* A rule whose action equals the default action is redundant and skipped.
* Conditions naming the same argument twice become one rule per condition
  (libseccomp cannot AND two conditions on one argument).
* flags absent means [SECCOMP_FILTER_FLAG_SPEC_ALLOW] when the kernel has it;
  an explicit list (even empty) is used as given.
* SCMP_ACT_NOTIFY cannot be the default action, nor the action for sendmsg:
  the listener fd is handed over with sendmsg after the filter is loaded, so a
  notified sendmsg would wait forever for an agent that never gets the fd
  (runc forbids "write" for the same reason).

The filter flags differ from runc in one way: we load the BPF ourselves with
seccomp(2), so TSYNC is passed to the kernel (with TSYNC_ESRCH when a listener
is wanted, as the kernel requires) and WAIT_KILLABLE_RECV works even though
libseccomp 2.5.4 does not know it. WAIT_KILLABLE_RECV only affects notified
syscalls, so without SCMP_ACT_NOTIFY rules it is dropped (the kernel rejects it
without a listener).
"""

from __future__ import annotations

from ociruntime import log
from ociruntime.errors import ConfigError, UnsupportedError
from ociruntime.records import record
from ociruntime.state.jsonfast import dumps as _show  # not json: it imports re (~9 ms per create)

TYPE_CHECKING = False  # typing and collections.abc: ~5 ms more on every create with a filter
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any

BASE_PATH = "linux.seccomp"
EPERM = 1
NOTIFY_FORBIDDEN_SYSCALLS = frozenset({"sendmsg"})
OPTIMIZE_ABOVE_RULES = 32  # binary-tree optimization pays off (and is safe) for longer profiles

ACTION_NAMES = (
    "SCMP_ACT_KILL",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_TRAP",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_TRACE",
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_LOG",
    "SCMP_ACT_NOTIFY",
)
OPERATOR_NAMES = (
    "SCMP_CMP_NE",
    "SCMP_CMP_LT",
    "SCMP_CMP_LE",
    "SCMP_CMP_EQ",
    "SCMP_CMP_GE",
    "SCMP_CMP_GT",
    "SCMP_CMP_MASKED_EQ",
)
# runtime-spec architecture -> libseccomp's name for it
ARCH_NAMES = {
    "SCMP_ARCH_X86": "x86",
    "SCMP_ARCH_X86_64": "x86_64",
    "SCMP_ARCH_X32": "x32",
    "SCMP_ARCH_ARM": "arm",
    "SCMP_ARCH_AARCH64": "aarch64",
    "SCMP_ARCH_MIPS": "mips",
    "SCMP_ARCH_MIPS64": "mips64",
    "SCMP_ARCH_MIPS64N32": "mips64n32",
    "SCMP_ARCH_MIPSEL": "mipsel",
    "SCMP_ARCH_MIPSEL64": "mipsel64",
    "SCMP_ARCH_MIPSEL64N32": "mipsel64n32",
    "SCMP_ARCH_PPC": "ppc",
    "SCMP_ARCH_PPC64": "ppc64",
    "SCMP_ARCH_PPC64LE": "ppc64le",
    "SCMP_ARCH_S390": "s390",
    "SCMP_ARCH_S390X": "s390x",
    "SCMP_ARCH_PARISC": "parisc",
    "SCMP_ARCH_PARISC64": "parisc64",
    "SCMP_ARCH_RISCV64": "riscv64",
    "SCMP_ARCH_LOONGARCH64": "loongarch64",
    "SCMP_ARCH_M68K": "m68k",
    "SCMP_ARCH_SH": "sh",
    "SCMP_ARCH_SHEB": "sheb",
}
FLAG_NAMES = (
    "SECCOMP_FILTER_FLAG_TSYNC",
    "SECCOMP_FILTER_FLAG_LOG",
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
)
MAX_ARG_INDEX = 5
UINT64_MAX = 2**64 - 1


@record(frozen=True)
class SeccompProgram:
    """A compiled filter: BPF bytes and the exact flags word for seccomp(2)
    (SECCOMP_FILTER_FLAG_NEW_LISTENER included when needs_listener)."""

    bpf: bytes
    flags: int
    listener_path: str = ""
    listener_metadata: str = ""
    needs_listener: bool = False
    ignored_syscalls: tuple[str, ...] = ()
    # the filter lets ociruntime-dmz wait for `start` as the created init (see below)
    trampoline_can_wait: bool = False

    @property
    def instructions(self) -> int:
        return len(self.bpf) // 8


@record(frozen=True)
class _Rule:
    path: str
    name: str
    action: int
    conditions: tuple[tuple[int, int, int, int], ...]


def _one_of(value: object, choices: Iterable[str]) -> str:
    return f"{_show(value)} is not one of {', '.join(choices)}"


def _require_str(value: object, path: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(path, f"{_show(value)} is not a string")
    return value


def _require_uint(value: object, path: str, maximum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        raise ConfigError(path, f"{_show(value)} is not an integer from 0 to {maximum}")
    return value


def _require_list(value: object, path: str) -> list[Any]:
    if not isinstance(value, list):
        raise ConfigError(path, f"{_show(value)} is not an array")
    return value


def _action(name: object, errno_ret: object, path: str, errno_path: str) -> int:
    from ociruntime.linux import seccomp as scmp

    if name not in ACTION_NAMES:
        raise ConfigError(path, _one_of(name, ACTION_NAMES))
    if name in ("SCMP_ACT_ERRNO", "SCMP_ACT_TRACE"):
        value = EPERM if errno_ret is None else _require_uint(errno_ret, errno_path, scmp.ACTION_DATA_MAX)
        return scmp.act_errno(value) if name == "SCMP_ACT_ERRNO" else scmp.act_trace(value)
    return {
        "SCMP_ACT_KILL": scmp.ACT_KILL_THREAD,
        "SCMP_ACT_KILL_THREAD": scmp.ACT_KILL_THREAD,
        "SCMP_ACT_KILL_PROCESS": scmp.ACT_KILL_PROCESS,
        "SCMP_ACT_TRAP": scmp.ACT_TRAP,
        "SCMP_ACT_ALLOW": scmp.ACT_ALLOW,
        "SCMP_ACT_LOG": scmp.ACT_LOG,
        "SCMP_ACT_NOTIFY": scmp.ACT_NOTIFY,
    }[name]


def _operator(name: object, path: str) -> int:
    from ociruntime.linux import seccomp as scmp

    if name not in OPERATOR_NAMES:
        raise ConfigError(path, _one_of(name, OPERATOR_NAMES))
    return getattr(scmp, name.removeprefix("SCMP_"))  # type: ignore[union-attr]


def _arch_tokens(archs: object, path: str) -> list[int]:
    from ociruntime.linux import seccomp as scmp

    tokens = []
    for i, arch in enumerate(_require_list(archs, path)):
        here = f"{path}[{i}]"
        if arch not in ARCH_NAMES:
            raise ConfigError(here, _one_of(arch, ARCH_NAMES))
        token = scmp.resolve_arch(ARCH_NAMES[arch])
        if token is None:
            raise UnsupportedError(
                f"config.json: {here}: {arch} is not supported by libseccomp {scmp.libseccomp_version()}"
            )
        tokens.append(token)
    return tokens


def _flag_bit(name: str) -> int:
    from ociruntime.linux import seccomp as scmp

    return getattr(scmp, name.removeprefix("SECCOMP_"))


def _flag_supported(name: str) -> bool:
    from ociruntime.linux import seccomp as scmp

    bit = _flag_bit(name)
    if name == "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV":
        bit |= scmp.FILTER_FLAG_NEW_LISTENER  # the kernel only accepts it with a listener
    return scmp.flags_known(bit)


def _flags(flags: object, path: str) -> int:
    """The filter flags the profile asks for, each checked against the kernel."""
    if flags is None:
        default = "SECCOMP_FILTER_FLAG_SPEC_ALLOW"
        return _flag_bit(default) if _flag_supported(default) else 0
    bits = 0
    for i, name in enumerate(_require_list(flags, path)):
        here = f"{path}[{i}]"
        if name not in FLAG_NAMES:
            raise ConfigError(here, _one_of(name, FLAG_NAMES))
        if not _flag_supported(name):
            raise UnsupportedError(f"config.json: {here}: {name} is not supported by this kernel")
        bits |= _flag_bit(name)
    return bits


def _conditions(args: object, path: str) -> list[tuple[int, int, int, int]]:
    conditions = []
    for k, arg in enumerate(_require_list(args, path)):
        here = f"{path}[{k}]"
        if not isinstance(arg, dict):
            raise ConfigError(here, f"{_show(arg)} is not an object")
        index = _require_uint(arg.get("index"), f"{here}.index", MAX_ARG_INDEX)
        value = _require_uint(arg.get("value"), f"{here}.value", UINT64_MAX)
        value_two = _require_uint(arg.get("valueTwo", 0), f"{here}.valueTwo", UINT64_MAX)
        # For MASKED_EQ the spec's value is the mask and valueTwo the expected
        # value, which is libseccomp's (datum_a, datum_b) order as well.
        conditions.append((index, _operator(arg.get("op"), f"{here}.op"), value, value_two))
    return conditions


def _split_conditions(conditions: list[tuple[int, int, int, int]]) -> list[tuple[tuple[int, int, int, int], ...]]:
    """One rule with all conditions, or one rule per condition when an argument
    is compared twice (runc does the same)."""
    indexes = [c[0] for c in conditions]
    if len(indexes) != len(set(indexes)):
        return [(c,) for c in conditions]
    return [tuple(conditions)]


def _rules(syscalls: object, path: str, default_action: int) -> tuple[list[_Rule], bool]:
    from ociruntime.linux import seccomp as scmp

    rules: list[_Rule] = []
    needs_listener = False
    for i, entry in enumerate(_require_list(syscalls, path)):
        here = f"{path}[{i}]"
        if not isinstance(entry, dict):
            raise ConfigError(here, f"{_show(entry)} is not an object")
        names = _require_list(entry.get("names"), f"{here}.names")
        if not names:
            raise ConfigError(f"{here}.names", "must name at least one syscall")
        action = _action(entry.get("action"), entry.get("errnoRet"), f"{here}.action", f"{here}.errnoRet")
        condition_sets = _split_conditions(_conditions(entry.get("args", []), f"{here}.args"))
        for j, name in enumerate(names):
            name = _require_str(name, f"{here}.names[{j}]")
            if not name:
                raise ConfigError(f"{here}.names[{j}]", "empty string is not a valid syscall")
            if action == scmp.ACT_NOTIFY and name in NOTIFY_FORBIDDEN_SYSCALLS:
                raise ConfigError(
                    f"{here}.names[{j}]",
                    f"SCMP_ACT_NOTIFY cannot be used for {name}: the runtime needs it to hand the listener over",
                )
            if action == default_action:
                continue  # redundant with the default; libseccomp would reject it
            needs_listener = needs_listener or action == scmp.ACT_NOTIFY
            rules.extend(_Rule(f"{here}.names[{j}]", name, action, conds) for conds in condition_sets)
    return rules, needs_listener


def compile_seccomp(cfg: dict, path: str = BASE_PATH) -> SeccompProgram | None:
    """Compile linux.seccomp; None when it asks for nothing (no defaultAction and
    no syscalls, which runc treats as seccomp disabled)."""
    from ociruntime.linux import seccomp as scmp

    if not isinstance(cfg, dict):
        raise ConfigError(path, f"{_show(cfg)} is not an object")
    if not cfg.get("defaultAction") and not cfg.get("syscalls"):
        return None
    default_action = _action(
        cfg.get("defaultAction"), cfg.get("defaultErrnoRet"), f"{path}.defaultAction", f"{path}.defaultErrnoRet"
    )
    if default_action == scmp.ACT_NOTIFY:
        raise ConfigError(f"{path}.defaultAction", "SCMP_ACT_NOTIFY cannot be used as the default action")
    archs = _arch_tokens(cfg.get("architectures", []), f"{path}.architectures")
    flags = _flags(cfg.get("flags"), f"{path}.flags")
    rules, needs_listener = _rules(cfg.get("syscalls", []), f"{path}.syscalls", default_action)
    listener_path = _require_str(cfg.get("listenerPath", ""), f"{path}.listenerPath")
    listener_metadata = _require_str(cfg.get("listenerMetadata", ""), f"{path}.listenerMetadata")
    if needs_listener and not listener_path:
        raise ConfigError(f"{path}.listenerPath", "must be set when a rule uses SCMP_ACT_NOTIFY")
    if needs_listener and scmp.api_level() < 6:
        raise UnsupportedError(
            f"config.json: {path}: SCMP_ACT_NOTIFY needs libseccomp API level 6 "
            f"(libseccomp >= 2.5 and Linux >= 5.7), this host has level {scmp.api_level()}"
        )

    bpf, ignored = _build(default_action, archs, rules)
    if needs_listener:
        flags |= scmp.FILTER_FLAG_NEW_LISTENER
        if flags & scmp.FILTER_FLAG_TSYNC:
            flags |= scmp.FILTER_FLAG_TSYNC_ESRCH  # the kernel refuses TSYNC + listener otherwise
    else:
        flags &= ~scmp.FILTER_FLAG_WAIT_KILLABLE_RECV
    return SeccompProgram(
        bpf=bpf,
        flags=flags,
        listener_path=listener_path,
        listener_metadata=listener_metadata,
        needs_listener=needs_listener,
        ignored_syscalls=ignored,
        trampoline_can_wait=not needs_listener and _allows_whatever_the_arguments(
            default_action, rules, TRAMPOLINE_WAIT_SYSCALLS),
    )


# What ociruntime-dmz calls, already under the filter, while it waits for `start` as the
# created container's init (csrc/dmz/dmz.c), and then to exec the target.
TRAMPOLINE_WAIT_SYSCALLS = ("prctl", "rt_sigaction", "read", "write", "close", "fcntl", "execve")


def _allows_whatever_the_arguments(default_action: int, rules: list[_Rule], names: Iterable[str]) -> bool:
    """Conservative: True only when each syscall is allowed (or logged) by every rule naming
    it, and by the default action or an unconditional rule. Anything less certain is False,
    and the init then waits for `start` as Python, before the filter is loaded."""
    from ociruntime.linux import seccomp as scmp

    allowing = (scmp.ACT_ALLOW, scmp.ACT_LOG)
    for name in names:
        naming = [rule for rule in rules if rule.name == name]
        if any(rule.action not in allowing for rule in naming):
            return False
        if default_action not in allowing and not any(not rule.conditions for rule in naming):
            return False
    return True


def _build(default_action: int, archs: list[int], rules: list[_Rule]) -> tuple[bytes, tuple[str, ...]]:
    from ociruntime.linux import seccomp as scmp

    ignored: list[str] = []
    with scmp.Filter(default_action) as flt:
        for token in archs:
            flt.add_arch(token)
        if len(rules) > OPTIMIZE_ABOVE_RULES:
            flt.set_attr(scmp.FLTATR_CTL_OPTIMIZE, 2)
        for rule in rules:
            number = scmp.resolve_syscall(rule.name)
            if number is None:
                if rule.name not in ignored:
                    log.logger.debug(f"unknown seccomp syscall {rule.name!r} ignored")
                    ignored.append(rule.name)
                continue
            try:
                flt.add_rule(rule.action, number, rule.conditions)
            except OSError as err:
                raise ConfigError(rule.path, f"cannot add a rule for {rule.name}: {err.strerror}") from None
        return flt.export_bpf(), tuple(ignored)


def libseccomp_version() -> str:
    """For the features annotation io.github.seccomp.libseccomp.version."""
    from ociruntime.linux import seccomp as scmp

    return scmp.libseccomp_version()


def _kernel_has_seccomp() -> bool:
    try:
        with open("/proc/self/status", encoding="utf-8", errors="replace") as f:
            return any(line.startswith("Seccomp:") for line in f)
    except OSError:
        return False


def _action_usable(name: str) -> bool:
    """NOTIFY also needs libseccomp API level 6 (compile_seccomp refuses it below) and the
    listener flag in this kernel (the hand-over to listenerPath is ours, security/seccomp_agent.py)."""
    from ociruntime.linux import seccomp as scmp

    if name != "SCMP_ACT_NOTIFY":
        return True
    return scmp.api_level() >= 6 and scmp.flags_known(scmp.FILTER_FLAG_NEW_LISTENER)


def features() -> dict:
    """linux.seccomp of the `features` document, true to this build and kernel."""
    from ociruntime.linux import seccomp as scmp

    enabled = _kernel_has_seccomp()
    actions = [
        name
        for name in ACTION_NAMES
        if enabled and scmp.action_available(_action(name, None, "", "")) and _action_usable(name)
    ]
    archs = [name for name, lib_name in ARCH_NAMES.items() if scmp.resolve_arch(lib_name) is not None]
    return {
        "enabled": enabled,
        "actions": sorted(actions),
        "operators": sorted(OPERATOR_NAMES),
        "archs": sorted(archs),
        "knownFlags": list(FLAG_NAMES),
        "supportedFlags": [name for name in FLAG_NAMES if enabled and _flag_supported(name)],
    }

