"""Device access rules: the OCI list plus runc's defaults, an emulator of the v1 devices
controller (to validate rules and compute minimal updates), and the v1 writes.

On create the rules are written in order after a deny-all, so devices.list shows them in
the order of config.json (the runtime-tools check relies on that). On update the emulator
computes the smallest transition so a running container never sees a deny-all window.
"""

from __future__ import annotations

from ociruntime.cgroups import cgfile
from ociruntime.cgroups.cgfile import Fields

WILDCARD = -1
_PERM_ORDER = "rwm"


def _norm_perms(perms: str) -> str:
    return "".join(p for p in _PERM_ORDER if p in perms)


class Rule:
    """One devices.allow/deny line; `field` is the config field it came from (for errors)."""

    __slots__ = ("type", "major", "minor", "access", "allow", "field")

    def __init__(self, kind: str, major: int, minor: int, access: str, allow: bool,
                 field: str = "devices") -> None:
        self.type = kind        # 'a' (all), 'b' (block) or 'c' (char)
        self.major = major      # -1 is the wildcard
        self.minor = minor
        self.access = access    # subset of "rwm"
        self.allow = allow
        self.field = field

    def __repr__(self) -> str:
        return f"Rule({self.cgroup_string()!r}, allow={self.allow})"

    def cgroup_string(self) -> str:
        major = "*" if self.major == WILDCARD else str(self.major)
        minor = "*" if self.minor == WILDCARD else str(self.minor)
        return f"{self.type} {major}:{minor} {self.access}"


def _default(major: int, minor: int, path: str = "", access: str = "rwm", kind: str = "c"):
    return (path, Rule(kind, major, minor, access, True, "devices (runc default)"))


# runc's AllowedDevices (libcontainer/specconv): appended after the user's rules. The
# ones with a path are dropped when linux.devices declares a device at the same path.
RUNC_DEFAULT_RULES: tuple[tuple[str, Rule], ...] = (
    _default(WILDCARD, WILDCARD, access="m", kind="c"),
    _default(WILDCARD, WILDCARD, access="m", kind="b"),
    _default(1, 3, "/dev/null"),
    _default(1, 8, "/dev/random"),
    _default(1, 7, "/dev/full"),
    _default(5, 0, "/dev/tty"),
    _default(1, 5, "/dev/zero"),
    _default(1, 9, "/dev/urandom"),
    _default(136, WILDCARD),   # /dev/pts/*
    _default(5, 2),            # /dev/ptmx
    _default(10, 200),         # /dev/net/tun, kept by runc for compatibility
)


def with_runc_defaults(rules: list[Rule], declared_paths: set[str]) -> list[Rule]:
    """The user's rules followed by runc's defaults, minus those linux.devices redeclares."""
    return rules + [r for path, r in RUNC_DEFAULT_RULES if not path or path not in declared_paths]


def parse_rules(entries: list, fields: Fields) -> list[Rule]:
    rules = []
    for i, entry in enumerate(entries):
        field = f"devices[{i}]"
        kind = entry.get("type") or "a"
        if kind not in ("a", "b", "c"):
            raise fields.error(field + ".type", f"invalid cgroup device type {kind!r}")
        access = entry.get("access") or ""
        if not access:
            raise fields.error(field + ".access", "device access cannot be empty")
        if set(access) - set(_PERM_ORDER):
            raise fields.error(field + ".access", f"{access!r} is not a combination of r, w, m")
        major = entry.get("major")
        minor = entry.get("minor")
        rules.append(Rule(
            kind, WILDCARD if major is None else int(major), WILDCARD if minor is None else int(minor),
            _norm_perms(access), bool(entry.get("allow")), field,
        ))
    return rules


class DeviceRuleError(ValueError):
    def __init__(self, rule: Rule, message: str) -> None:
        super().__init__(message)
        self.rule = rule


Key = tuple[str, int, int]


class Emulator:
    """The kernel's v1 devices semantics: a default (allow or deny) plus exceptions."""

    def __init__(self, default_allow: bool = False) -> None:
        self.default_allow = default_allow
        self.exceptions: dict[Key, str] = {}

    def apply(self, rule: Rule) -> None:
        if rule.type == "a":
            self.default_allow = rule.allow
            self.exceptions = {}
            return
        key = (rule.type, rule.major, rule.minor)
        if rule.allow == self.default_allow:
            self._remove(key, rule)
        else:
            old = self.exceptions.get(key, "")
            self.exceptions[key] = _norm_perms(old + rule.access)

    def _remove(self, key: Key, rule: Rule) -> None:
        # The kernel silently ignores removing part of a wildcard exception; refuse it.
        kind, major, minor = key
        for partial in ((kind, WILDCARD, minor), (kind, major, WILDCARD), (kind, WILDCARD, WILDCARD)):
            if partial == key:
                continue
            overlap = set(self.exceptions.get(partial, "")) & set(rule.access)
            if overlap:
                raise DeviceRuleError(rule, (
                    f"rule {rule.cgroup_string()!r} cannot punch a hole in the wildcard rule "
                    f"'{partial[0]} {_fmt(partial[1])}:{_fmt(partial[2])} "
                    f"{self.exceptions[partial]}' (not supported by the devices cgroup)"))
        remaining = _norm_perms("".join(p for p in self.exceptions.get(key, "") if p not in rule.access))
        if remaining:
            self.exceptions[key] = remaining
        else:
            self.exceptions.pop(key, None)

    def sorted_exceptions(self) -> list[tuple[Key, str]]:
        return sorted(self.exceptions.items(), key=lambda kv: (kv[0][1], kv[0][2], kv[0][0]))

    @classmethod
    def from_rules(cls, rules: list[Rule]) -> Emulator:
        emu = cls(default_allow=False)
        for rule in rules:
            emu.apply(rule)
        return emu

    @classmethod
    def from_list(cls, text: str) -> Emulator:
        """From devices.list: 'a *:* rwm' means allow-all; other lines are allow entries."""
        emu = cls(default_allow=False)
        for line in text.splitlines():
            parts = line.split()
            if len(parts) != 3:
                continue
            kind, (major, minor), access = parts[0], parts[1].split(":"), parts[2]
            emu.apply(Rule(kind, _parse_num(major), _parse_num(minor), _norm_perms(access), True))
        return emu

    def transition(self, target: Emulator) -> list[Rule]:
        """The fewest writes that turn this state into `target` (runc's Transition)."""
        out: list[Rule] = []
        old = self.exceptions
        if self.default_allow or self.default_allow != target.default_allow:
            # A blacklist's deny entries cannot be read back, so reset it as well.
            out.append(Rule("a", WILDCARD, WILDCARD, "rwm", target.default_allow))
            old = {}
        for key, perms in sorted(old.items(), key=lambda kv: (kv[0][1], kv[0][2], kv[0][0])):
            dropped = _norm_perms("".join(p for p in perms if p not in target.exceptions.get(key, "")))
            if dropped:
                out.append(Rule(key[0], key[1], key[2], dropped, target.default_allow))
        for key, perms in target.sorted_exceptions():
            gained = _norm_perms("".join(p for p in perms if p not in old.get(key, "")))
            if gained:
                out.append(Rule(key[0], key[1], key[2], gained, not target.default_allow))
        return out


def _fmt(n: int) -> str:
    return "*" if n == WILDCARD else str(n)


def _parse_num(text: str) -> int:
    return WILDCARD if text == "*" else int(text)


def validate(rules: list[Rule], fields: Fields) -> Emulator:
    """Run the rules through the emulator; a rule the kernel would ignore is an error."""
    try:
        return Emulator.from_rules(rules)
    except DeviceRuleError as e:
        raise fields.error(e.rule.field, str(e)) from None


def _write_rule(dirpath: str, rule: Rule, fields: Fields) -> None:
    name = "devices.allow" if rule.allow else "devices.deny"
    cgfile.write(dirpath, name, rule.cgroup_string(), rule.field, fields)


def apply_v1_initial(dirpath: str, rules: list[Rule], fields: Fields) -> None:
    """Fresh cgroup: deny everything, then write each rule in config order."""
    target = validate(rules, fields)
    _write_rule(dirpath, Rule("a", WILDCARD, WILDCARD, "rwm", False), fields)
    for rule in rules:
        _write_rule(dirpath, rule, fields)
    _check_result(dirpath, target, fields)


def apply_v1_update(dirpath: str, rules: list[Rule], fields: Fields) -> None:
    """Running container: only the difference between devices.list and the target."""
    target = validate(rules, fields)
    current = Emulator.from_list(cgfile.read(dirpath, "devices.list"))
    for rule in current.transition(target):
        _write_rule(dirpath, rule, fields)
    _check_result(dirpath, target, fields)


def _check_result(dirpath: str, target: Emulator, fields: Fields) -> None:
    after = Emulator.from_list(cgfile.read(dirpath, "devices.list"))
    same = after.default_allow == target.default_allow and (
        target.default_allow or after.exceptions == target.exceptions)
    if not same:
        raise fields.error("devices", f"{dirpath}/devices.list does not match the requested rules")
