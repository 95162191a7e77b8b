"""security.seccomp.features(): the `features` entry is true to this build and kernel."""

from __future__ import annotations

from ociruntime.linux import seccomp as scmp
from ociruntime.security import seccomp


def test_features_shape_matches_the_runtime_spec() -> None:
    found = seccomp.features()
    assert set(found) == {"enabled", "actions", "operators", "archs", "knownFlags", "supportedFlags"}
    assert found["enabled"] is True


def test_every_spec_action_and_operator_is_supported() -> None:
    found = seccomp.features()
    assert found["actions"] == sorted(seccomp.ACTION_NAMES)
    assert found["operators"] == sorted(seccomp.OPERATOR_NAMES)
    assert len(found["operators"]) == 7


def test_archs_are_the_ones_libseccomp_resolves() -> None:
    archs = seccomp.features()["archs"]
    assert archs == sorted(archs)
    assert {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64"} <= set(archs)
    for name in seccomp.ARCH_NAMES:
        assert (name in archs) == (scmp.resolve_arch(seccomp.ARCH_NAMES[name]) is not None)


def test_flags_known_and_supported() -> None:
    found = seccomp.features()
    assert found["knownFlags"] == [
        "SECCOMP_FILTER_FLAG_TSYNC",
        "SECCOMP_FILTER_FLAG_LOG",
        "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
        "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
    ]
    assert set(found["supportedFlags"]) <= set(found["knownFlags"])
    # This machine's kernel (>= 5.19) has all four.
    assert found["supportedFlags"] == found["knownFlags"]


def test_libseccomp_version_is_the_linked_one() -> None:
    version = seccomp.libseccomp_version()
    assert version.count(".") == 2 and all(part.isdigit() for part in version.split("."))
    assert tuple(int(p) for p in version.split(".")) >= (2, 5, 0)


def test_notify_is_reported_only_as_far_as_it_can_be_compiled_with_every_supported_flag() -> None:
    found = seccomp.features()
    assert "SCMP_ACT_NOTIFY" in found["actions"]  # libseccomp 2.5.4 (API 6), Linux >= 5.x here
    program = seccomp.compile_seccomp({
        "defaultAction": "SCMP_ACT_ALLOW",
        "flags": found["supportedFlags"],
        "listenerPath": "/run/agent.sock",
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}],
    })
    assert program is not None and program.needs_listener
    assert program.flags & scmp.FILTER_FLAG_NEW_LISTENER and program.flags & scmp.FILTER_FLAG_WAIT_KILLABLE_RECV
