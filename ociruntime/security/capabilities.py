"""The five capability sets: parsing names from the config, and applying them.

Planning is pure (names -> numbers, with the JSON path of every bad value). Applying goes
through the C extension (ociruntime.linux.procattr for the bounding set and capset(2),
ocr_cap_ambient_set for the ambient set), not ctypes or python-prctl: ctypes costs ~15 ms
to import and python-prctl ~1.6 ms, and either would be preloaded before pivot_root.
"""

from __future__ import annotations

from ociruntime.errors import ConfigError, KernelError, UnsupportedError
from ociruntime.records import tuple_record
from ociruntime.spec.names import CAPABILITIES, CAPABILITY_SETS

# Every name we accept, in kernel order (also what `features` reports).
KNOWN_CAPABILITIES: tuple[str, ...] = tuple(sorted(CAPABILITIES, key=CAPABILITIES.__getitem__))
CAPABILITY_NAMES: dict[int, str] = {number: name for name, number in CAPABILITIES.items()}

CAP_SETPCAP = CAPABILITIES["CAP_SETPCAP"]
CAP_SYS_ADMIN = CAPABILITIES["CAP_SYS_ADMIN"]
CAP_SYS_RESOURCE = CAPABILITIES["CAP_SYS_RESOURCE"]


@tuple_record
class CapabilitySets:  # a NamedTuple, not a dataclass: ~10x cheaper to import
    """Capability numbers per set; None where the config leaves the set out.

    runc treats an absent set as empty (an absent `bounding` drops the whole bounding
    set), and so do we when applying: see `resolved`.
    """

    bounding: frozenset[int] | None = None
    effective: frozenset[int] | None = None
    inheritable: frozenset[int] | None = None
    permitted: frozenset[int] | None = None
    ambient: frozenset[int] | None = None

    def resolved(self, name: str) -> frozenset[int]:
        value = getattr(self, name)
        return frozenset() if value is None else value


@tuple_record
class CapabilityMasks:
    """The final sets as 64-bit masks, in the form capset(2) and the exec step take."""

    effective: int
    permitted: int
    inheritable: int
    ambient: int


def mask_of(caps: frozenset[int] | set[int]) -> int:
    mask = 0
    for cap in caps:
        mask |= 1 << cap
    return mask


def caps_of(mask: int) -> frozenset[int]:
    return frozenset(bit for bit in range(64) if mask >> bit & 1)


def _at(path: str, suffix: str) -> str:
    return f"{path}.{suffix}" if path else suffix


def parse_capabilities(raw: object, *, path: str, file: str = "config.json") -> CapabilitySets:
    """Turn `process.capabilities` into numbers; unknown names are errors naming the entry.

    `path` is the JSON path of the capabilities object (e.g. "process.capabilities").
    """
    if raw is None:
        return CapabilitySets()
    if not isinstance(raw, dict):
        raise ConfigError(path, "must be an object", file=file)
    sets: dict[str, frozenset[int] | None] = {}
    for set_name in CAPABILITY_SETS:
        names = raw.get(set_name)
        if names is None:
            sets[set_name] = None
            continue
        set_path = _at(path, set_name)
        if not isinstance(names, list):
            raise ConfigError(set_path, "must be an array of capability names", file=file)
        numbers = set()
        for index, name in enumerate(names):
            number = CAPABILITIES.get(name) if isinstance(name, str) else None
            if number is None:
                shown = f'"{name}"' if isinstance(name, str) else repr(name)
                raise ConfigError(f"{set_path}[{index}]", f"{shown} is not a known capability", file=file)
            numbers.add(number)
        sets[set_name] = frozenset(numbers)
    result = CapabilitySets(**sets)
    _check_consistency(result, raw, path=path, file=file)
    return result


def _check_consistency(sets: CapabilitySets, raw: dict, *, path: str, file: str) -> None:
    """Combinations capset(2) always refuses (runc fails there with EPERM): say so up front."""
    permitted = sets.resolved("permitted")
    for index, name in enumerate(raw.get("effective") or []):
        if CAPABILITIES[name] not in permitted:
            raise ConfigError(_at(path, f"effective[{index}]"),
                              f'"{name}" is not in the permitted set (effective must be a subset of permitted)',
                              file=file)
    bounding = sets.resolved("bounding")
    for index, name in enumerate(raw.get("inheritable") or []):
        if CAPABILITIES[name] not in bounding:
            raise ConfigError(_at(path, f"inheritable[{index}]"),
                              f'"{name}" is not in the bounding set (inheritable must be a subset of bounding)',
                              file=file)


def check_host_bounding(raw: object, host_bounding: int, *, path: str, file: str = "config.json") -> None:
    """Every capability named in `raw` (process.capabilities) must be in host_bounding.

    runc asks the kernel anyway and fails at capset(2) with a bare EPERM (or, for the
    bounding set alone, silently gives the container less than configured); we name the
    capability instead. Not called for containers with a user namespace: a new (or
    joined) user namespace starts with a full bounding set.
    """
    if not isinstance(raw, dict):
        return
    for set_name in CAPABILITY_SETS:
        for index, name in enumerate(raw.get(set_name) or []):
            if not host_bounding >> CAPABILITIES[name] & 1:
                raise UnsupportedError(
                    f"{file}: {_at(path, f'{set_name}[{index}]')}: \"{name}\" is not in this host's "
                    "capability bounding set, so no process started here can hold it")


def effective_ambient(sets: CapabilitySets) -> frozenset[int]:
    """The ambient caps that can be raised: the kernel requires each in permitted and inheritable.

    runc (gocapability) and crun both skip the others silently; we do the same.
    """
    return sets.resolved("ambient") & sets.resolved("permitted") & sets.resolved("inheritable")


def final_masks(sets: CapabilitySets) -> CapabilityMasks:
    return CapabilityMasks(
        effective=mask_of(sets.resolved("effective")),
        permitted=mask_of(sets.resolved("permitted")),
        inheritable=mask_of(sets.resolved("inheritable")),
        ambient=mask_of(effective_ambient(sets)),
    )


# ---------------------------------------------------------------------------------------
# Reading the current process
# ---------------------------------------------------------------------------------------

def read_status_masks(*fields: str) -> dict[str, int]:
    """The hex Cap* (or other) fields of /proc/self/status, e.g. read_status_masks("CapBnd")."""
    wanted = {f"{name}:" for name in fields}
    found: dict[str, int] = {}
    with open("/proc/self/status", "rb") as fh:
        for line in fh.read().decode().splitlines():
            key, _, value = line.partition("\t")
            if key in wanted:
                found[key[:-1]] = int(value.strip(), 16)
    return found


def last_cap() -> int:
    try:
        with open("/proc/sys/kernel/cap_last_cap", "rb") as fh:
            return int(fh.read())
    except OSError:
        return max(CAPABILITY_NAMES)


# ---------------------------------------------------------------------------------------
# Applying (in the container init, in the order apply_user_and_capabilities gives)
# ---------------------------------------------------------------------------------------

def drop_bounding(keep: frozenset[int]) -> None:
    """Drop every capability outside `keep` from the bounding set (needs CAP_SETPCAP)."""
    from ociruntime.linux import procattr

    for cap in range(last_cap() + 1):
        if cap in keep or not procattr.in_bounding_set(cap):
            continue
        try:
            procattr.drop_from_bounding_set(cap)
        except OSError as err:
            name = CAPABILITY_NAMES.get(cap, str(cap))
            raise KernelError(f"unable to drop {name} from the capability bounding set: {err.strerror}"
                              " (the runtime needs CAP_SETPCAP)", err.errno) from None


def set_capabilities(effective: frozenset[int], permitted: frozenset[int], inheritable: frozenset[int],
                     *, path: str, file: str) -> None:
    """capset(2) with exactly these three sets."""
    from ociruntime.linux import procattr

    # Capabilities newer than this table stay as the kernel has them: only in the pre-exec
    # permitted set, which execve recomputes from the bounding set we cut.
    known = (1 << (min(last_cap(), max(CAPABILITY_NAMES)) + 1)) - 1
    current = procattr.get_capabilities()
    masks = [(held & ~known) | (sum(1 << cap for cap in wanted) & known)
             for held, wanted in zip(current, (effective, permitted, inheritable))]
    try:
        procattr.set_capabilities(*masks)
    except OSError as err:
        raise KernelError(f"{file}: {path}: unable to apply capabilities: {err.strerror.lower()}",
                          err.errno) from None


def set_ambient(wanted: frozenset[int], *, path: str, file: str) -> None:
    """Make the ambient set exactly `wanted` (each already in permitted and inheritable)."""
    from ociruntime.linux.system import set_ambient_capabilities

    mask = mask_of(wanted)
    if read_status_masks("CapAmb").get("CapAmb", 0) == mask:
        return
    try:
        set_ambient_capabilities(mask)
    except OSError as err:
        cap = None if err.filename is None else int(err.filename)
        what = ("clear the ambient capability set" if cap is None
                else f"raise ambient capability {CAPABILITY_NAMES.get(cap, cap)}")
        raise KernelError(f"{file}: {_at(path, 'ambient')}: unable to {what}: {err.strerror.lower()}",
                          err.errno) from None
