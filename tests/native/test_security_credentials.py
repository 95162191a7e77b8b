"""Credentials on the real kernel: fork a child, apply, exec busybox, read what the kernel says.

Each test forks its own child (stdio on a pipe, stdin /dev/null so nothing of pytest's gets
chowned), applies the credentials in runc's order and execs the static /bin/busybox, which
prints /proc/self/status, /proc/self/limits and oom_score_adj: the same files runtime-tools'
runtimetest reads right after exec. Only the children started here are waited for.

Host facts these tests rely on (asserted, not assumed): we are root; the bounding set lacks
CAP_SYS_RESOURCE; there is no AppArmor and no SELinux.
"""

from __future__ import annotations

import os
import signal
import struct
import traceback
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest

from ociruntime.errors import ConfigError, UnsupportedError
from ociruntime.security import capabilities as capmod
from ociruntime.security import credentials as cr
from ociruntime.security import lsm
from ociruntime.security.procfs import ProcfsError, open_proc_file

BUSYBOX = "/bin/busybox"
REPORT = [BUSYBOX, "cat", "/proc/self/status", "/proc/self/limits", "/proc/self/oom_score_adj"]
ENV = ["PATH=/bin:/usr/bin"]
ENV_DICT = {"PATH": "/bin:/usr/bin"}
DOCKER_DEFAULT = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
]
DOCKER_MASK = 0xA80425FB
CHILD_RAISED = 111


@pytest.fixture(autouse=True, scope="module")
def _host_facts() -> None:
    assert os.geteuid() == 0, "native security tests run as root"
    assert not capmod.read_status_masks("CapBnd")["CapBnd"] >> capmod.CAP_SYS_RESOURCE & 1, \
        "these tests expect a host bounding set without CAP_SYS_RESOURCE"
    assert not lsm.apparmor_enabled() and not lsm.selinux_enabled(), "these tests expect no AppArmor/SELinux"


# --- running a child ---------------------------------------------------------------------------

def in_child(body: Callable[[], None]) -> tuple[int, str]:
    """Run body in a forked child with stdout/stderr on a pipe; (exit status, output).

    body normally ends in exec; an exception is printed as "RAISED <type>: <message>"."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never returns
        code = 0
        try:
            os.close(read_end)
            null = os.open("/dev/null", os.O_RDONLY)
            os.dup2(null, 0)
            os.dup2(write_end, 1)
            os.dup2(write_end, 2)
            body()
        except BaseException as exc:  # noqa: BLE001 - report everything to the parent
            os.write(1, f"RAISED {type(exc).__name__}: {exc}\n".encode())
            os.write(1, traceback.format_exc().encode())
            code = CHILD_RAISED
        os._exit(code)
    os.close(write_end)
    chunks = []
    with os.fdopen(read_end, "rb") as pipe:
        while chunk := pipe.read(65536):
            chunks.append(chunk)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), b"".join(chunks).decode(errors="replace")


def apply_all(creds: cr.ProcessCredentials, *, seccomp_pending: bool = False) -> None:
    cr.apply_oom_score_adj(creds)
    cr.apply_rlimits(creds)
    cr.apply_lsm(creds)
    cr.apply_user_and_capabilities(creds, seccomp_pending=seccomp_pending)


def run_report(creds: cr.ProcessCredentials) -> dict[str, str]:
    def body() -> None:
        apply_all(creds)
        os.execve(BUSYBOX, REPORT, ENV_DICT)

    code, out = in_child(body)
    assert code == 0, out
    return parse_report(out)


def parse_report(out: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    lines = out.splitlines()
    for line in lines:
        key, sep, value = line.partition(":")
        if sep and "\t" in value:
            fields[key] = value.strip()
        if line.startswith("Max "):
            parts = line.split()
            name = " ".join(p for p in parts if not p.isdigit() and p != "unlimited")
            numbers = [p for p in parts if p.isdigit() or p == "unlimited"]
            fields[f"limit:{name}"] = " ".join(numbers[:2])
    fields["oom_score_adj"] = lines[-1].strip()
    return fields


def caps_hex(names: list[str]) -> int:
    return capmod.mask_of({capmod.CAPABILITIES[n] for n in names})


def status_mask(report: dict[str, str], key: str) -> int:
    return int(report[key], 16)


def plan(process: dict, **kwargs: object) -> cr.ProcessCredentials:
    return cr.plan_credentials(process, **kwargs)  # type: ignore[arg-type]


# --- whole configurations ----------------------------------------------------------------------

def test_root_with_docker_default_set() -> None:
    creds = plan({
        "user": {"uid": 0, "gid": 0},
        "capabilities": {"bounding": DOCKER_DEFAULT, "effective": DOCKER_DEFAULT, "permitted": DOCKER_DEFAULT},
        "noNewPrivileges": True,
        "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 1024}],
        "oomScoreAdj": 100,
    })
    report = run_report(creds)
    assert status_mask(report, "CapBnd") == DOCKER_MASK
    assert status_mask(report, "CapPrm") == DOCKER_MASK
    assert status_mask(report, "CapEff") == DOCKER_MASK
    assert status_mask(report, "CapInh") == 0
    assert status_mask(report, "CapAmb") == 0
    assert report["Uid"].split() == ["0"] * 4
    assert report["Gid"].split() == ["0"] * 4
    assert report["Groups"] == ""
    assert report["NoNewPrivs"] == "1"
    assert report["Umask"] == "0022"  # runc's default when user.umask is absent
    assert report["limit:Max open files files"] == "1024 1024"
    assert report["oom_score_adj"] == "100"


def test_non_root_user_with_ambient_capabilities() -> None:
    kept = ["CAP_KILL", "CAP_NET_BIND_SERVICE"]
    creds = plan({
        "user": {"uid": 1000, "gid": 1000, "additionalGids": [10, 20], "umask": 0o077},
        "capabilities": {"bounding": ["CAP_CHOWN", *kept], "permitted": kept, "inheritable": kept,
                         "effective": kept, "ambient": kept},
        "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 512, "hard": 800},
                    {"type": "RLIMIT_CORE", "soft": 0, "hard": 0}],
        "oomScoreAdj": 500,
    })
    report = run_report(creds)
    assert status_mask(report, "CapBnd") == caps_hex(["CAP_CHOWN", *kept])
    # A non-root process without file capabilities gets permitted = effective = ambient at exec.
    for key in ("CapInh", "CapPrm", "CapEff", "CapAmb"):
        assert status_mask(report, key) == caps_hex(kept), key
    assert report["Uid"].split() == ["1000"] * 4
    assert report["Gid"].split() == ["1000"] * 4
    assert report["Groups"].split() == ["10", "20"]
    assert report["NoNewPrivs"] == "0"
    assert report["Umask"] == "0077"
    assert report["limit:Max open files files"] == "512 800"
    assert report["limit:Max core file size bytes"] == "0 0"
    assert report["oom_score_adj"] == "500"


def test_empty_sets_leave_root_without_any_capability() -> None:
    creds = plan({"capabilities": {"bounding": [], "effective": [], "inheritable": [], "permitted": [],
                                   "ambient": []}})
    report = run_report(creds)
    for key in ("CapBnd", "CapInh", "CapPrm", "CapEff", "CapAmb"):
        assert status_mask(report, key) == 0, key


def test_absent_capabilities_drop_everything_like_runc() -> None:
    report = run_report(plan({"user": {"uid": 0, "gid": 0}}))
    for key in ("CapBnd", "CapInh", "CapPrm", "CapEff", "CapAmb"):
        assert status_mask(report, key) == 0, key
    assert report["oom_score_adj"] == "0"  # unset: left alone


def test_root_gets_bounding_as_permitted_and_effective_at_exec() -> None:
    # The kernel's rule for uid 0 (and the reason runc shows the same): P' = E' = bounding | inheritable.
    creds = plan({"capabilities": {"bounding": DOCKER_DEFAULT, "permitted": ["CAP_CHOWN"],
                                   "effective": ["CAP_CHOWN"]}})
    report = run_report(creds)
    assert status_mask(report, "CapPrm") == status_mask(report, "CapEff") == DOCKER_MASK


def test_ambient_outside_inheritable_is_skipped() -> None:
    creds = plan({"user": {"uid": 1000, "gid": 1000},
                  "capabilities": {"bounding": ["CAP_KILL"], "permitted": ["CAP_KILL"], "effective": ["CAP_KILL"],
                                   "ambient": ["CAP_KILL"]}})
    report = run_report(creds)
    assert status_mask(report, "CapAmb") == 0
    assert status_mask(report, "CapPrm") == status_mask(report, "CapEff") == 0
    assert status_mask(report, "CapBnd") == caps_hex(["CAP_KILL"])


def test_user_namespace_starts_with_a_full_bounding_set() -> None:
    # Why plan_credentials(in_user_namespace=True) skips the host check: CAP_SYS_RESOURCE,
    # absent from the host's bounding set, can be held inside a new user namespace.
    creds = plan({"capabilities": {"bounding": ["CAP_SYS_RESOURCE"], "permitted": ["CAP_SYS_RESOURCE"],
                                   "effective": ["CAP_SYS_RESOURCE"]}}, in_user_namespace=True)

    def body() -> None:
        enter_private_user_namespace()
        apply_all(creds)
        os.execve(BUSYBOX, REPORT, ENV_DICT)

    code, out = in_child(body)
    assert code == 0, out
    report = parse_report(out)
    assert status_mask(report, "CapBnd") == caps_hex(["CAP_SYS_RESOURCE"])
    assert status_mask(report, "CapEff") == caps_hex(["CAP_SYS_RESOURCE"])


# --- host limits, named ------------------------------------------------------------------------

def test_capability_missing_on_host_is_refused_at_plan_time() -> None:
    with pytest.raises(UnsupportedError) as info:
        plan({"capabilities": {"bounding": ["CAP_KILL", "CAP_SYS_RESOURCE"], "permitted": ["CAP_KILL"]}})
    assert str(info.value) == ('config.json: process.capabilities.bounding[1]: "CAP_SYS_RESOURCE" is not in '
                               "this host's capability bounding set, so no process started here can hold it")


def test_unknown_capability_is_refused_before_the_host_check() -> None:
    with pytest.raises(ConfigError) as info:
        plan({"capabilities": {"bounding": ["CAP_SYS_RESOURCE", "CAP_KILL", "CAP_TEST"]}})
    assert str(info.value) == 'config.json: process.capabilities.bounding[2]: "CAP_TEST" is not a known capability'


def test_raising_a_hard_rlimit_is_refused_at_plan_time() -> None:
    import resource

    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    with pytest.raises(UnsupportedError, match=r"^config.json: process.rlimits\[0\]: cannot raise the RLIMIT_NOFILE"):
        plan({"rlimits": [{"type": "RLIMIT_NOFILE", "soft": hard + 1, "hard": hard + 1}]})


def test_raising_a_hard_rlimit_fails_in_the_child_with_the_field_named() -> None:
    import resource

    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    creds = plan({"rlimits": [{"type": "RLIMIT_NOFILE", "soft": hard + 1, "hard": hard + 1}]}, check_host=False)
    code, out = in_child(lambda: cr.apply_rlimits(creds))
    assert code == CHILD_RAISED
    assert out.splitlines()[0] == ("RAISED KernelError: config.json: process.rlimits[0]: error setting rlimit "
                                   "type 7 (RLIMIT_NOFILE): operation not permitted")


def test_rlimits_applied_by_the_parent_on_the_child_pid() -> None:
    # For a user-namespace container: the parent, still privileged, sets the init's limits.
    creds = plan({"rlimits": [{"type": "RLIMIT_NOFILE", "soft": 321, "hard": 654},
                              {"type": "RLIMIT_CORE", "soft": 2**64 - 1, "hard": 2**64 - 1}]})
    go_read, go_write = os.pipe()

    def body() -> None:
        os.close(go_write)
        os.read(go_read, 1)
        os.execve(BUSYBOX, REPORT, ENV_DICT)

    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.dup2(write_end, 1)
        try:
            body()
        finally:
            os._exit(1)
    os.close(go_read)
    os.close(write_end)
    try:
        cr.apply_rlimits(creds, pid=pid)
    finally:
        os.write(go_write, b"x")
        os.close(go_write)
        with os.fdopen(read_end, "rb") as pipe:
            out = pipe.read().decode()
        _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, out
    report = parse_report(out)
    assert report["limit:Max open files files"] == "321 654"
    assert report["limit:Max core file size bytes"] == "unlimited unlimited"


def test_lowering_oom_score_adj_without_cap_sys_resource_is_named() -> None:
    creds = plan({"oomScoreAdj": -500})
    code, out = in_child(lambda: cr.apply_oom_score_adj(creds))
    assert code == CHILD_RAISED
    assert out.splitlines()[0] == ("RAISED KernelError: config.json: process.oomScoreAdj: unable to set "
                                   "oom_score_adj to -500: permission denied (lowering it needs CAP_SYS_RESOURCE)")


# --- LSMs --------------------------------------------------------------------------------------

def test_apparmor_profile_without_apparmor_is_refused_at_plan_time() -> None:
    with pytest.raises(UnsupportedError) as info:
        plan({"apparmorProfile": "acme_secure_profile"})
    assert str(info.value) == ("config.json: process.apparmorProfile: AppArmor is not enabled on this host, "
                               "so the profile cannot be applied")


def test_apparmor_profile_without_apparmor_is_refused_at_apply_time() -> None:
    creds = cr.ProcessCredentials(apparmor_profile="acme_secure_profile")
    with pytest.raises(UnsupportedError, match=r"^config.json: process.apparmorProfile: AppArmor is not enabled"):
        cr.apply_lsm(creds)


def test_apparmor_write_on_this_kernel_reports_unsupported() -> None:
    # Bypass the plan-time flag: the kernel itself refuses, and we still name the field.
    code, out = in_child(lambda: lsm.apply_apparmor_profile("acme", field="process.apparmorProfile"))
    assert code == CHILD_RAISED
    assert out.splitlines()[0] == ("RAISED UnsupportedError: config.json: process.apparmorProfile: AppArmor is "
                                   "not enabled on this host, so the profile cannot be applied")


def test_selinux_label_without_selinux_is_ignored() -> None:
    creds = plan({"selinuxLabel": "system_u:system_r:svirt_lxc_net_t:s0:c124,c675",
                  "capabilities": {"bounding": ["CAP_KILL"]}})
    assert creds.selinux_enabled is False
    report = run_report(creds)  # applies, execs, and the process runs
    assert status_mask(report, "CapBnd") == caps_hex(["CAP_KILL"])


# --- seccomp after the user switch -------------------------------------------------------------

ALLOW_ALL = SimpleNamespace(bpf=struct.pack("=HBBI", 0x06, 0, 0, 0x7FFF0000), flags=0)  # BPF_RET|K ALLOW
KEPT = ["CAP_KILL", "CAP_NET_BIND_SERVICE"]
USER_WITH_AMBIENT = {"user": {"uid": 1000, "gid": 1000},
                     "capabilities": {"bounding": KEPT, "permitted": KEPT, "inheritable": KEPT, "effective": KEPT,
                                      "ambient": KEPT}}


def test_seccomp_without_no_new_privs_needs_seccomp_pending() -> None:
    from ociruntime.linux.exec import execve

    creds = plan(USER_WITH_AMBIENT)

    def body() -> None:
        cr.apply_user_and_capabilities(creds)
        execve(BUSYBOX, REPORT, ENV, ALLOW_ALL)

    code, out = in_child(body)
    assert code == CHILD_RAISED
    assert "without noNewPrivileges this needs CAP_SYS_ADMIN" in out.splitlines()[0]


@pytest.mark.parametrize("pass_final_sets", [True, False])
def test_seccomp_pending_keeps_sys_admin_until_exec_only(pass_final_sets: bool) -> None:
    from ociruntime.linux.exec import execve

    creds = plan(USER_WITH_AMBIENT)

    def body() -> None:
        cr.apply_user_and_capabilities(creds, seccomp_pending=True)
        held = capmod.read_status_masks("CapEff")["CapEff"]
        os.write(1, f"before-exec CapEff {held:x}\n".encode())
        caps = cr.exec_capabilities(creds) if pass_final_sets else None
        execve(BUSYBOX, REPORT, ENV, ALLOW_ALL, capabilities=caps)

    code, out = in_child(body)
    assert code == 0, out
    before = int(out.splitlines()[0].split()[-1], 16)
    assert before >> capmod.CAP_SYS_ADMIN & 1
    report = parse_report("\n".join(out.splitlines()[1:]))
    assert report["Seccomp"] == "2"
    for key in ("CapInh", "CapPrm", "CapEff", "CapAmb"):
        assert status_mask(report, key) == caps_hex(KEPT), key  # CAP_SYS_ADMIN is gone after exec
    assert status_mask(report, "CapBnd") == caps_hex(KEPT)


def test_seccomp_pending_with_no_new_privs_keeps_nothing_extra() -> None:
    from ociruntime.linux.exec import execve

    creds = plan({**USER_WITH_AMBIENT, "noNewPrivileges": True})

    def body() -> None:
        cr.apply_user_and_capabilities(creds, seccomp_pending=True)
        held = capmod.read_status_masks("CapEff")["CapEff"]
        os.write(1, f"before-exec CapEff {held:x}\n".encode())
        execve(BUSYBOX, REPORT, ENV, ALLOW_ALL)

    code, out = in_child(body)
    assert code == 0, out
    assert int(out.splitlines()[0].split()[-1], 16) == caps_hex(KEPT)
    report = parse_report("\n".join(out.splitlines()[1:]))
    assert report["NoNewPrivs"] == "1" and report["Seccomp"] == "2"


# --- user switch details -----------------------------------------------------------------------

def test_stdio_is_given_to_the_user_and_pdeathsig_survives_the_switch() -> None:
    import prctl

    creds = plan({"user": {"uid": 1234, "gid": 1234}})

    def body() -> None:
        prctl.set_pdeathsig(signal.SIGKILL)
        cr.apply_user_and_capabilities(creds)
        os.write(1, f"stdout-owner {os.fstat(1).st_uid} pdeathsig {prctl.get_pdeathsig()} "
                    f"stdin-owner {os.fstat(0).st_uid}\n".encode())

    code, out = in_child(body)
    assert code == 0, out
    # stdin is /dev/null, which is never chowned.
    assert out.split() == ["stdout-owner", "1234", "pdeathsig", str(int(signal.SIGKILL)), "stdin-owner", "0"]


def enter_private_user_namespace() -> None:
    """unshare a user namespace mapping only root, with setgroups denied (what a child in it
    may do without privileges in the parent namespace)."""
    from ociruntime.linux import namespaces

    namespaces.unshare(namespaces.CLONE_NEWUSER)
    for name, data in (("setgroups", "deny"), ("uid_map", "0 0 1"), ("gid_map", "0 0 1")):
        with open(f"/proc/self/{name}", "w") as fh:
            fh.write(data)


def test_setgroups_denied_in_user_namespace_is_skipped() -> None:
    creds = plan({"capabilities": {"bounding": ["CAP_KILL"]}}, in_user_namespace=True)

    def body() -> None:
        enter_private_user_namespace()
        cr.apply_user_and_capabilities(creds)
        os.execve(BUSYBOX, REPORT, ENV_DICT)

    code, out = in_child(body)
    assert code == 0, out
    assert parse_report(out)["Uid"].split() == ["0"] * 4


def test_additional_gids_with_setgroups_denied_are_refused() -> None:
    creds = plan({"user": {"uid": 0, "gid": 0, "additionalGids": [5]}}, in_user_namespace=True)

    def body() -> None:
        enter_private_user_namespace()
        cr.apply_user_and_capabilities(creds)

    code, out = in_child(body)
    assert code == CHILD_RAISED
    assert out.splitlines()[0] == ("RAISED UnsupportedError: config.json: process.user.additionalGids: cannot set "
                                   "additional groups: setgroups is denied in this user namespace")


def test_unmapped_uid_is_named() -> None:
    creds = plan({"user": {"uid": 1000, "gid": 0}}, in_user_namespace=True)

    def body() -> None:
        enter_private_user_namespace()
        cr.apply_user_and_capabilities(creds)

    code, out = in_child(body)
    assert code == CHILD_RAISED
    assert out.splitlines()[0] == ("RAISED ConfigError: config.json: process.user.uid: setresuid 1000: the id is "
                                   "not mapped in the user namespace")


# --- procfs writes cannot be redirected (CVE-2025-52881 class) -----------------------------------

def test_proc_root_that_is_not_procfs_is_refused(tmp_path: Path) -> None:
    (tmp_path / "self").mkdir()
    (tmp_path / "self" / "oom_score_adj").write_text("0")
    with pytest.raises(ProcfsError, match="is not a procfs mount"):
        open_proc_file("self/oom_score_adj", os.O_WRONLY, proc_root=str(tmp_path))


def _bind_decoy_over(decoy: Path, proc_file: str) -> None:
    from ociruntime.linux import mounts, namespaces

    namespaces.unshare(namespaces.CLONE_NEWNS)
    mounts.mount(None, "/", None, mounts.MS_REC | mounts.MS_PRIVATE)
    mounts.mount(str(decoy), proc_file, None, mounts.MS_BIND)


def test_bind_mount_over_oom_score_adj_is_not_written_through(tmp_path: Path) -> None:
    decoy = tmp_path / "decoy"
    decoy.write_text("untouched")
    creds = plan({"oomScoreAdj": 7})

    def naive() -> None:
        _bind_decoy_over(decoy, f"/proc/{os.getpid()}/oom_score_adj")
        with open("/proc/self/oom_score_adj", "w") as fh:  # what a careless runtime does
            fh.write("7")

    code, out = in_child(naive)
    assert code == 0, out
    assert decoy.read_text() == "7", "the attack must be real for this test to mean anything"

    decoy.write_text("untouched")

    def guarded() -> None:
        _bind_decoy_over(decoy, f"/proc/{os.getpid()}/oom_score_adj")
        cr.apply_oom_score_adj(creds)

    code, out = in_child(guarded)
    assert code == CHILD_RAISED
    assert out.splitlines()[0] == ("RAISED KernelError: config.json: process.oomScoreAdj: unable to set "
                                   "oom_score_adj to 7: invalid cross-device link")
    assert decoy.read_text() == "untouched"


def test_bind_mount_over_attr_exec_is_not_written_through(tmp_path: Path) -> None:
    decoy = tmp_path / "decoy"
    decoy.write_text("untouched")

    def guarded() -> None:
        _bind_decoy_over(decoy, f"/proc/{os.getpid()}/task/{os.getpid()}/attr/exec")
        lsm.apply_selinux_label("system_u:system_r:container_t:s0", field="process.selinuxLabel")

    code, out = in_child(guarded)
    assert code == CHILD_RAISED
    assert out.splitlines()[0] == ("RAISED KernelError: config.json: process.selinuxLabel: unable to set SELinux "
                                   "exec label 'system_u:system_r:container_t:s0': invalid cross-device link")
    assert decoy.read_text() == "untouched"



def test_absent_umask_means_runc_default_not_inherited() -> None:
    creds = plan({"user": {"uid": 0, "gid": 0}})

    def body() -> None:
        os.umask(0o000)
        cr.apply_user_and_capabilities(creds)
        os.execve(BUSYBOX, REPORT, ENV_DICT)

    code, out = in_child(body)
    assert code == 0, out
    assert parse_report(out)["Umask"] == "0022"
