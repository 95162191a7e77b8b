"""Planning of process credentials: every field, every error message with its JSON path.

Pure: plan_credentials(check_host=False) touches nothing; the host checks are tested with
explicit masks and limits (their real-host behaviour is in tests/native).
"""

from __future__ import annotations

import pytest

from ociruntime.errors import ConfigError, UnsupportedError
from ociruntime.security import capabilities as capmod
from ociruntime.security import rlimits as rlmod
from ociruntime.security.credentials import ProcessCredentials, plan_credentials

DOCKER_DEFAULT = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
]


def plan(process: dict, **kwargs: object) -> ProcessCredentials:
    kwargs.setdefault("check_host", False)
    return plan_credentials(process, **kwargs)  # type: ignore[arg-type]


def config_error(process: dict, **kwargs: object) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        plan(process, **kwargs)
    return info.value


# --- a complete, valid process --------------------------------------------------------------

def test_full_process_is_planned_field_by_field() -> None:
    creds = plan({
        "user": {"uid": 1000, "gid": 100, "additionalGids": [5, 6, 5], "umask": 0o027},
        "capabilities": {
            "bounding": ["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_CHOWN"],
            "permitted": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
            "inheritable": ["CAP_NET_BIND_SERVICE"],
            "effective": ["CAP_KILL"],
            "ambient": ["CAP_NET_BIND_SERVICE"],
        },
        "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 4096},
                    {"type": "RLIMIT_CORE", "soft": 0, "hard": 0}],
        "noNewPrivileges": True,
        "oomScoreAdj": -17,
        "apparmorProfile": "acme",
        "selinuxLabel": "system_u:system_r:svirt_lxc_net_t:s0:c124,c675",
    })
    assert (creds.uid, creds.gid, creds.umask) == (1000, 100, 0o027)
    assert creds.additional_gids == (5, 6, 5)  # passed to setgroups as given
    caps = creds.capabilities
    assert caps.bounding == {5, 10, 0}
    assert caps.permitted == {5, 10}
    assert caps.inheritable == {10}
    assert caps.effective == {5}
    assert caps.ambient == {10}
    assert creds.rlimits == ((7, 1024, 4096), (4, 0, 0))
    assert creds.no_new_privileges is True
    assert creds.oom_score_adj == -17
    assert creds.apparmor_profile == "acme"
    assert creds.selinux_label.startswith("system_u:")


def test_minimal_process_gets_runc_defaults() -> None:
    creds = plan({"args": ["sh"], "cwd": "/"})
    assert (creds.uid, creds.gid, creds.additional_gids, creds.umask) == (0, 0, (), None)
    assert creds.capabilities == capmod.CapabilitySets()
    # An absent set is applied as an empty one (runc: an absent bounding drops them all).
    assert all(creds.capabilities.resolved(name) == frozenset() for name in
               ("bounding", "effective", "inheritable", "permitted", "ambient"))
    assert creds.rlimits == ()
    assert creds.no_new_privileges is False
    assert creds.oom_score_adj is None
    assert creds.apparmor_profile is None and creds.selinux_label is None


def test_absent_set_is_none_but_empty_set_is_empty() -> None:
    caps = plan({"capabilities": {"bounding": [], "effective": None}}).capabilities
    assert caps.bounding == frozenset()
    assert caps.effective is None
    assert caps.ambient is None


def test_empty_profile_and_label_mean_none() -> None:
    creds = plan({"apparmorProfile": "", "selinuxLabel": ""})
    assert creds.apparmor_profile is None and creds.selinux_label is None


def test_duplicate_capability_in_a_set_is_harmless() -> None:
    caps = plan({"capabilities": {"bounding": ["CAP_KILL", "CAP_KILL"]}}).capabilities
    assert caps.bounding == {5}


def test_docker_default_set_maps_to_the_kernel_numbers() -> None:
    caps = plan({"capabilities": {"bounding": DOCKER_DEFAULT, "permitted": DOCKER_DEFAULT,
                                  "effective": DOCKER_DEFAULT}}).capabilities
    assert capmod.mask_of(caps.bounding) == 0xA80425FB  # Docker's documented CapBnd
    assert caps.effective == caps.permitted == caps.bounding


# --- capabilities: errors ---------------------------------------------------------------------

@pytest.mark.parametrize("set_name", ["bounding", "effective", "inheritable", "permitted", "ambient"])
def test_unknown_capability_names_the_entry(set_name: str) -> None:
    err = config_error({"capabilities": {set_name: ["CAP_KILL", "CAP_CHOWN", "CAP_TEST"]}})
    assert err.path == f"process.capabilities.{set_name}[2]"
    assert str(err) == f'config.json: process.capabilities.{set_name}[2]: "CAP_TEST" is not a known capability'


def test_capability_names_are_case_sensitive_like_runc() -> None:
    err = config_error({"capabilities": {"bounding": ["cap_kill"]}})
    assert str(err) == 'config.json: process.capabilities.bounding[0]: "cap_kill" is not a known capability'


def test_capability_without_prefix_is_unknown() -> None:
    err = config_error({"capabilities": {"bounding": ["KILL"]}})
    assert err.path == "process.capabilities.bounding[0]"


def test_non_string_capability() -> None:
    err = config_error({"capabilities": {"ambient": [21]}})
    assert str(err) == "config.json: process.capabilities.ambient[0]: 21 is not a known capability"


def test_capability_set_must_be_a_list() -> None:
    err = config_error({"capabilities": {"permitted": "CAP_KILL"}})
    assert str(err) == "config.json: process.capabilities.permitted: must be an array of capability names"


def test_capabilities_must_be_an_object() -> None:
    err = config_error({"capabilities": ["CAP_KILL"]})
    assert str(err) == "config.json: process.capabilities: must be an object"


def test_effective_outside_permitted_is_refused() -> None:
    # capset(2) always refuses this (runc fails there with EPERM).
    err = config_error({"capabilities": {"permitted": ["CAP_KILL"], "effective": ["CAP_KILL", "CAP_CHOWN"]}})
    assert str(err) == ('config.json: process.capabilities.effective[1]: "CAP_CHOWN" is not in the '
                        "permitted set (effective must be a subset of permitted)")


def test_effective_without_permitted_is_refused() -> None:
    err = config_error({"capabilities": {"effective": ["CAP_KILL"]}})
    assert err.path == "process.capabilities.effective[0]"


def test_inheritable_outside_bounding_is_refused() -> None:
    err = config_error({"capabilities": {"bounding": ["CAP_KILL"], "inheritable": ["CAP_CHOWN"]}})
    assert str(err) == ('config.json: process.capabilities.inheritable[0]: "CAP_CHOWN" is not in the '
                        "bounding set (inheritable must be a subset of bounding)")


def test_ambient_outside_permitted_or_inheritable_is_accepted_and_skipped() -> None:
    # runc and crun raise what they can and ignore the rest; so do we.
    caps = plan({"capabilities": {"bounding": ["CAP_KILL", "CAP_CHOWN"], "permitted": ["CAP_KILL", "CAP_CHOWN"],
                                  "inheritable": ["CAP_KILL"], "ambient": ["CAP_KILL", "CAP_CHOWN", "CAP_BPF"]}}
                ).capabilities
    assert caps.ambient == {5, 0, 39}
    assert capmod.effective_ambient(caps) == {5}


# --- capabilities: the host's bounding set ----------------------------------------------------

HOST_WITHOUT_SYS_RESOURCE = 0x1FFFEFFFFFF  # this VM's CapBnd: bit 24 (CAP_SYS_RESOURCE) clear


@pytest.mark.parametrize("set_name", ["bounding", "effective", "inheritable", "permitted", "ambient"])
def test_capability_missing_from_host_bounding_set_is_named(set_name: str) -> None:
    raw = {set_name: ["CAP_KILL", "CAP_SYS_RESOURCE"]}
    with pytest.raises(UnsupportedError) as info:
        capmod.check_host_bounding(raw, HOST_WITHOUT_SYS_RESOURCE, path="process.capabilities")
    assert str(info.value) == (f'config.json: process.capabilities.{set_name}[1]: "CAP_SYS_RESOURCE" is not '
                               "in this host's capability bounding set, so no process started here can hold it")


def test_host_bounding_check_passes_for_docker_default() -> None:
    raw = {"bounding": DOCKER_DEFAULT, "permitted": DOCKER_DEFAULT, "effective": DOCKER_DEFAULT}
    capmod.check_host_bounding(raw, HOST_WITHOUT_SYS_RESOURCE, path="process.capabilities")


def test_host_bounding_check_covers_the_newest_capability() -> None:
    raw = {"bounding": ["CAP_CHECKPOINT_RESTORE"]}
    with pytest.raises(UnsupportedError, match=r"bounding\[0\]: \"CAP_CHECKPOINT_RESTORE\""):
        capmod.check_host_bounding(raw, (1 << 40) - 1, path="process.capabilities")


# --- rlimits -----------------------------------------------------------------------------------

def test_unknown_rlimit_type() -> None:
    err = config_error({"rlimits": [{"type": "RLIMIT_NOFILE", "soft": 1, "hard": 1},
                                    {"type": "RLIMIT_TEST", "soft": 1, "hard": 2}]})
    assert str(err) == 'config.json: process.rlimits[1].type: "RLIMIT_TEST" is not a known rlimit type'


def test_soft_above_hard() -> None:
    err = config_error({"rlimits": [{"type": "RLIMIT_NOFILE", "soft": 2048, "hard": 1024}]})
    assert str(err) == ("config.json: process.rlimits[0]: RLIMIT_NOFILE soft limit 2048 is greater than "
                        "the hard limit 1024")


def test_duplicate_rlimit_type() -> None:
    # config.md: duplicated entries with the same type MUST be an error.
    err = config_error({"rlimits": [{"type": "RLIMIT_CORE", "soft": 1, "hard": 1},
                                    {"type": "RLIMIT_NPROC", "soft": 1, "hard": 1},
                                    {"type": "RLIMIT_CORE", "soft": 2, "hard": 2}]})
    assert str(err) == "config.json: process.rlimits[2].type: RLIMIT_CORE is already set by process.rlimits[0]"


@pytest.mark.parametrize(("key", "value"), [("soft", -1), ("hard", 2**64), ("soft", "10"), ("hard", True),
                                            ("soft", None), ("hard", 1.5)])
def test_rlimit_values_must_be_uint64(key: str, value: object) -> None:
    entry = {"type": "RLIMIT_NOFILE", "soft": 1, "hard": 1, key: value}
    if value is None:
        del entry[key]
    err = config_error({"rlimits": [entry]})
    assert err.path == f"process.rlimits[0].{key}"
    assert err.reason == f"{value!r} is not an unsigned 64-bit integer"


def test_rlimit_entry_must_be_an_object() -> None:
    err = config_error({"rlimits": ["RLIMIT_NOFILE"]})
    assert str(err) == "config.json: process.rlimits[0]: must be an object with type, soft and hard"


def test_rlimits_must_be_an_array() -> None:
    assert config_error({"rlimits": {"type": "RLIMIT_NOFILE"}}).path == "process.rlimits"


def test_unlimited_rlimit_is_accepted() -> None:
    creds = plan({"rlimits": [{"type": "RLIMIT_CORE", "soft": 2**64 - 1, "hard": 2**64 - 1}]})
    assert creds.rlimits == ((4, rlmod.RLIM_INFINITY, rlmod.RLIM_INFINITY),)


def test_every_spec_rlimit_type_is_known() -> None:
    names = ["RLIMIT_AS", "RLIMIT_CORE", "RLIMIT_CPU", "RLIMIT_DATA", "RLIMIT_FSIZE", "RLIMIT_LOCKS",
             "RLIMIT_MEMLOCK", "RLIMIT_MSGQUEUE", "RLIMIT_NICE", "RLIMIT_NOFILE", "RLIMIT_NPROC",
             "RLIMIT_RSS", "RLIMIT_RTPRIO", "RLIMIT_RTTIME", "RLIMIT_SIGPENDING", "RLIMIT_STACK"]
    creds = plan({"rlimits": [{"type": n, "soft": 1, "hard": 1} for n in names]})
    assert sorted(r.resource for r in creds.rlimits) == list(range(16))


def test_raising_a_hard_limit_without_cap_sys_resource_is_named() -> None:
    import resource

    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard == resource.RLIM_INFINITY:
        pytest.fail("this test needs a finite RLIMIT_NOFILE hard limit in the test process")
    limits = rlmod.parse_rlimits([{"type": "RLIMIT_CORE", "soft": 0, "hard": 0},
                                  {"type": "RLIMIT_NOFILE", "soft": 1, "hard": hard + 1}], path="process.rlimits")
    with pytest.raises(UnsupportedError) as info:
        rlmod.check_host_rlimits(limits, can_raise=False, path="process.rlimits")
    assert str(info.value) == (f"config.json: process.rlimits[1]: cannot raise the RLIMIT_NOFILE hard limit to "
                               f"{hard + 1} (the runtime's is {hard}): that needs CAP_SYS_RESOURCE, which this "
                               "runtime does not have")
    rlmod.check_host_rlimits(limits, can_raise=True, path="process.rlimits")  # privileged: fine
    lower = rlmod.parse_rlimits([{"type": "RLIMIT_NOFILE", "soft": 1, "hard": hard}], path="process.rlimits")
    rlmod.check_host_rlimits(lower, can_raise=False, path="process.rlimits")  # not raising: fine


# --- user --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("field", "value"), [("uid", -1), ("gid", "0"), ("uid", True), ("gid", 2**32 - 1),
                                              ("uid", 1.0)])
def test_bad_ids(field: str, value: object) -> None:
    err = config_error({"user": {"uid": 0, "gid": 0, field: value}})
    assert str(err) == f"config.json: process.user.{field}: {value!r} is not a valid id (0 to 4294967294)"


def test_bad_additional_gid_names_its_index() -> None:
    err = config_error({"user": {"uid": 0, "gid": 0, "additionalGids": [1, 2, -3]}})
    assert err.path == "process.user.additionalGids[2]"


def test_additional_gids_must_be_an_array() -> None:
    err = config_error({"user": {"uid": 0, "gid": 0, "additionalGids": 5}})
    assert str(err) == "config.json: process.user.additionalGids: must be an array of group ids"


@pytest.mark.parametrize("umask", [-1, 0o10000, "022", False])
def test_bad_umask(umask: object) -> None:
    err = config_error({"user": {"uid": 0, "gid": 0, "umask": umask}})
    assert str(err) == f"config.json: process.user.umask: {umask!r} is not a valid umask (0 to 0o7777)"


def test_user_must_be_an_object() -> None:
    assert str(config_error({"user": "root"})) == "config.json: process.user: must be an object"


# --- the rest ----------------------------------------------------------------------------------

@pytest.mark.parametrize("value", [-1001, 1001, "5", 1.5, True])
def test_bad_oom_score_adj(value: object) -> None:
    err = config_error({"oomScoreAdj": value})
    assert str(err) == f"config.json: process.oomScoreAdj: {value!r} is not an integer from -1000 to 1000"


@pytest.mark.parametrize("value", [-1000, 0, 1000])
def test_oom_score_adj_bounds(value: int) -> None:
    assert plan({"oomScoreAdj": value}).oom_score_adj == value


def test_no_new_privileges_must_be_boolean() -> None:
    err = config_error({"noNewPrivileges": "yes"})
    assert str(err) == "config.json: process.noNewPrivileges: 'yes' is not a boolean"


@pytest.mark.parametrize("field", ["apparmorProfile", "selinuxLabel"])
def test_lsm_fields_must_be_strings(field: str) -> None:
    err = config_error({field: 1})
    assert str(err) == f"config.json: process.{field}: 1 is not a string"


def test_process_must_be_an_object() -> None:
    assert str(config_error([])) == "config.json: process: must be an object"  # type: ignore[arg-type]


def test_exec_process_json_paths_have_no_prefix() -> None:
    # `exec --process process.json`: the file's root is the process object.
    err = config_error({"capabilities": {"bounding": ["CAP_NOPE"]}}, path="", file="process.json")
    assert str(err) == 'process.json: capabilities.bounding[0]: "CAP_NOPE" is not a known capability'
    err = config_error({"rlimits": [{"type": "RLIMIT_X", "soft": 1, "hard": 1}]}, path="", file="process.json")
    assert str(err) == 'process.json: rlimits[0].type: "RLIMIT_X" is not a known rlimit type'
    creds = plan({"oomScoreAdj": 3}, path="", file="process.json")
    assert creds.at("oomScoreAdj") == "oomScoreAdj" and creds.file == "process.json"


# --- masks for the exec step -------------------------------------------------------------------

def test_final_masks_drop_ambient_the_kernel_would_refuse() -> None:
    sets = capmod.parse_capabilities({"bounding": ["CAP_KILL", "CAP_NET_RAW"], "permitted": ["CAP_KILL", "CAP_NET_RAW"],
                                      "inheritable": ["CAP_KILL"], "effective": ["CAP_NET_RAW"],
                                      "ambient": ["CAP_KILL", "CAP_NET_RAW"]}, path="process.capabilities")
    assert capmod.final_masks(sets) == capmod.CapabilityMasks(
        effective=1 << 13, permitted=(1 << 5) | (1 << 13), inheritable=1 << 5, ambient=1 << 5)


def test_mask_round_trip_and_known_names() -> None:
    assert capmod.caps_of(capmod.mask_of({0, 21, 40})) == {0, 21, 40}
    assert capmod.KNOWN_CAPABILITIES[0] == "CAP_CHOWN"
    assert capmod.KNOWN_CAPABILITIES[-1] == "CAP_CHECKPOINT_RESTORE"
    assert len(capmod.KNOWN_CAPABILITIES) == 41
