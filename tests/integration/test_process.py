"""process.*: args, env, cwd, user, umask, rlimits, capabilities, noNewPrivileges,
oomScoreAdj, plus linux.sysctl; all read back from inside the container."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers import procs
from helpers.containers import SLEEPER, create, inside

CAP_BITS = {"CAP_CHOWN": 0, "CAP_DAC_OVERRIDE": 1, "CAP_KILL": 5, "CAP_SETGID": 6, "CAP_SETUID": 7,
            "CAP_NET_BIND_SERVICE": 10, "CAP_NET_RAW": 13, "CAP_SYS_ADMIN": 21, "CAP_AUDIT_WRITE": 29}


def cap_mask(*names: str) -> int:
    return sum(1 << CAP_BITS[name] for name in set(names))


def status_fields(text: str) -> dict[str, str]:
    """Fields of /proc/self/status (as printed by `cat /proc/self/status`)."""
    return {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in text.splitlines()) if v}


def own_status(runtime, bundle, cid) -> dict[str, str]:
    return status_fields(inside(runtime, bundle, cid, "cat /proc/self/status; exit 0"))


# --- args, env, cwd ------------------------------------------------------------------------

def test_args_are_passed_verbatim(runtime, bundle, container_id):
    bundle.args("printf", "[%s]", "two words", "", "*", "$HOME")
    result = runtime.run(container_id, bundle)
    assert result.stdout_text() == "[two words][][*][$HOME]", result.describe()


def test_args_zero_is_looked_up_in_the_config_path(runtime, bundle, container_id):
    bundle.process["env"] = ["PATH=/bin"]
    bundle.args("echo", "found")
    assert runtime.run(container_id, bundle).ok().stdout_text() == "found\n"


def test_missing_executable_fails_create(runtime, bundle, container_id):
    bundle.args("no-such-program")
    runtime.create(container_id, bundle).failed("executable file not found in $PATH")
    runtime.state_result(container_id).failed("container does not exist")


def test_env_is_exactly_the_configured_env(runtime, bundle, container_id):
    bundle.process["env"] = ["PATH=/bin", "GREETING=two words", "EMPTY=", "HOME=/root"]
    out = inside(runtime, bundle, container_id, "env")
    env = set(out.splitlines()) - {"PWD=/", "SHLVL=1"}  # sh adds these itself
    assert env == {"PATH=/bin", "GREETING=two words", "EMPTY=", "HOME=/root"}


def test_cwd(runtime, bundle, container_id):
    bundle.process["cwd"] = "/tmp"
    assert inside(runtime, bundle, container_id, "pwd") == "/tmp\n"


def test_missing_cwd_is_created(runtime, bundle, container_id):
    bundle.process["cwd"] = "/new/work/dir"
    assert inside(runtime, bundle, container_id, "pwd") == "/new/work/dir\n"
    assert (bundle.rootfs / "new/work/dir").is_dir()


def test_missing_cwd_is_created_under_a_read_only_root(runtime, bundle, container_id):
    """runc makes the cwd before the root becomes read-only (`runc spec` sets readonly)."""
    bundle.config["root"]["readonly"] = True
    bundle.process["cwd"] = "/made/here"
    assert inside(runtime, bundle, container_id, "pwd") == "/made/here\n"
    assert (bundle.rootfs / "made/here").is_dir()


# The shell's own /proc/<pid>/stat: field 6 is the session id (0 when the session's leader
# is outside the container's PID namespace, as the caller's is).
SESSION = 'read -r line < /proc/$$/stat; set -- $line; echo "pid=$1 sid=$6"'


def test_the_init_leads_its_own_session(runtime, bundle, container_id):
    """As runc's: no controlling terminal, so /dev/tty cannot reach the caller's terminal."""
    assert inside(runtime, bundle, container_id, SESSION) == "pid=1 sid=1\n"


def test_an_exec_process_leads_its_own_session(runtime, bundle, container_id):
    bundle.sh(SLEEPER)
    c = create(runtime, bundle, container_id)
    runtime.start(container_id).ok()
    c.wait_output("ready")
    pid, sid = runtime.call("exec", container_id, "sh", "-c", SESSION).ok().stdout_text().split()
    assert sid == f"sid={pid[len('pid='):]}", (pid, sid)
    runtime.kill(container_id, "KILL").ok()
    procs.wait_exit(c.pid)
    runtime.delete(container_id).ok()


# --- user ----------------------------------------------------------------------------------

def test_user_uid_gid_and_additional_gids(runtime, bundle, container_id):
    bundle.process["user"] = {"uid": 1000, "gid": 1000, "additionalGids": [10, 20]}
    status = own_status(runtime, bundle, container_id)
    assert status["Uid"].split() == ["1000"] * 4
    assert status["Gid"].split() == ["1000"] * 4
    assert status["Groups"].split() == ["10", "20"]


def test_created_init_already_is_the_process_user(runtime, bundle, container_id):
    """As in runc: user, groups and capabilities are final before the init waits for
    `start` (only seccomp and the exec are left), so `start` waits for the exec alone."""
    bundle.process["user"] = {"uid": 1000, "gid": 1000, "additionalGids": [10]}
    bundle.process["cwd"] = "/tmp"
    bundle.sh("grep -E '^(Uid|Gid|Groups|CapEff|CapPrm):' /proc/self/status")
    created = create(runtime, bundle, container_id)
    try:
        waiting = status_fields(Path(f"/proc/{created.pid}/status").read_text())
        assert waiting["Uid"].split() == ["1000"] * 4
        assert waiting["Gid"].split() == ["1000"] * 4
        assert waiting["Groups"].split() == ["10"]
        assert os.readlink(f"/proc/{created.pid}/cwd") == "/tmp"  # as the container sees it
        runtime.start(container_id).ok()
        assert procs.wait_exit(created.pid).exit_code == 0
        running = status_fields(created.output())
        assert {k: waiting[k] for k in running} == running  # the capabilities included
    finally:
        runtime.delete(container_id, force=True).ok()


def test_root_user_has_no_supplementary_groups(runtime, bundle, container_id):
    assert own_status(runtime, bundle, container_id)["Groups"].split() == []


def test_uid_without_passwd_entry(runtime, bundle, container_id):
    bundle.process["user"] = {"uid": 4242, "gid": 4343}
    assert inside(runtime, bundle, container_id, "id -u; id -g").split() == ["4242", "4343"]


def test_umask(runtime, bundle, container_id):
    bundle.process["user"]["umask"] = 0o027
    out = inside(runtime, bundle, container_id, "umask; touch /tmp/f; stat -c %a /tmp/f")
    assert out.split() == ["0027", "640"]


# --- rlimits -------------------------------------------------------------------------------

def limits(text: str) -> dict[str, tuple[str, str]]:
    rows = {}
    for line in text.splitlines()[1:]:
        parts = line[26:].split()
        rows[line[:26].strip()] = (parts[0], parts[1])
    return rows


def test_rlimits(runtime, bundle, container_id):
    bundle.process["rlimits"] = [
        {"type": "RLIMIT_NOFILE", "soft": 256, "hard": 512},
        {"type": "RLIMIT_CORE", "soft": 0, "hard": 0},
        {"type": "RLIMIT_NPROC", "soft": 1000, "hard": 2000},
    ]
    rows = limits(inside(runtime, bundle, container_id, "cat /proc/self/limits"))
    assert rows["Max open files"] == ("256", "512")
    assert rows["Max core file size"] == ("0", "0")
    assert rows["Max processes"] == ("1000", "2000")


def test_rlimit_seen_by_the_shell(runtime, bundle, container_id):
    bundle.process["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 100, "hard": 200}]
    assert inside(runtime, bundle, container_id, "ulimit -n; ulimit -H -n").split() == ["100", "200"]


# --- capabilities, no_new_privs, oom -------------------------------------------------------

def test_capabilities_of_the_default_config_as_root(runtime, bundle, container_id):
    status = own_status(runtime, bundle, container_id)
    default = cap_mask("CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE")
    assert int(status["CapBnd"], 16) == default
    assert int(status["CapPrm"], 16) == default
    assert int(status["CapEff"], 16) == default
    assert int(status["CapInh"], 16) == 0
    # Ambient caps must also be inheritable; runc skips them silently when they are not.
    assert int(status["CapAmb"], 16) == 0


def test_all_five_capability_sets_for_a_non_root_user(runtime, bundle, container_id):
    bundle.process["user"] = {"uid": 1000, "gid": 1000}
    bundle.process["capabilities"] = {
        "bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW"],
        "inheritable": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
        "permitted": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
        "effective": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
        "ambient": ["CAP_NET_BIND_SERVICE"],
    }
    status = own_status(runtime, bundle, container_id)
    # After execve of a file without capabilities, a non-root process keeps only its ambient
    # set in permitted/effective; inheritable and bounding stay as configured.
    assert int(status["CapBnd"], 16) == cap_mask("CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW")
    assert int(status["CapInh"], 16) == cap_mask("CAP_KILL", "CAP_NET_BIND_SERVICE")
    assert int(status["CapPrm"], 16) == cap_mask("CAP_NET_BIND_SERVICE")
    assert int(status["CapEff"], 16) == cap_mask("CAP_NET_BIND_SERVICE")
    assert int(status["CapAmb"], 16) == cap_mask("CAP_NET_BIND_SERVICE")


def test_no_capabilities_means_none(runtime, bundle, container_id):
    bundle.process["capabilities"] = {}
    status = own_status(runtime, bundle, container_id)
    assert all(int(status[k], 16) == 0 for k in ("CapBnd", "CapPrm", "CapEff", "CapInh", "CapAmb"))


def test_capability_is_enforced(runtime, bundle, container_id):
    # chown needs CAP_CHOWN, which the default config does not give.
    out = inside(runtime, bundle, container_id, "touch /tmp/f; chown 1000 /tmp/f 2>&1; echo rc=$?")
    assert "Operation not permitted" in out and "rc=1" in out


@pytest.mark.parametrize("value, expected", [(True, "1"), (False, "0")])
def test_no_new_privileges(runtime, bundle, container_id, value, expected):
    bundle.process["noNewPrivileges"] = value
    assert own_status(runtime, bundle, container_id)["NoNewPrivs"] == expected


def test_oom_score_adj(runtime, bundle, container_id):
    bundle.process["oomScoreAdj"] = 500
    assert inside(runtime, bundle, container_id, "cat /proc/self/oom_score_adj") == "500\n"


# --- seccomp: who waits for `start` --------------------------------------------------------

MKDIR_REFUSED = {"defaultAction": "SCMP_ACT_ALLOW",
                 "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}


def _created_then_started(runtime, bundle, container_id) -> tuple[dict[str, str], str, str]:
    """(the created init's status, its exe, what the process printed once started)."""
    bundle.sh("mkdir /tmp/made 2>&1; grep Seccomp: /proc/self/status")
    created = create(runtime, bundle, container_id)
    try:
        waiting = status_fields(Path(f"/proc/{created.pid}/status").read_text())
        exe = os.readlink(f"/proc/{created.pid}/exe")
        runtime.start(container_id).ok()
        assert procs.wait_exit(created.pid).exit_code == 0
        return waiting, exe, created.output()
    finally:
        runtime.delete(container_id, force=True).ok()


@pytest.mark.ours_only  # the trampoline is ours
def test_under_a_filter_that_lets_it_the_trampoline_waits_filtered(runtime, bundle, container_id):
    bundle.linux["seccomp"] = MKDIR_REFUSED
    waiting, exe, out = _created_then_started(runtime, bundle, container_id)
    assert exe.startswith("/memfd:ociruntime-dmz")
    assert waiting["Seccomp"] == "2"  # loaded before it waits, as runc without noNewPrivileges
    assert "Operation not permitted" in out and "Seccomp:\t2" in out


@pytest.mark.ours_only
def test_a_filter_that_might_refuse_the_trampoline_leaves_the_wait_to_the_runtime(runtime, bundle,
                                                                                 container_id):
    """read(2) refused for some arguments: the trampoline might not be able to wait, so the
    init waits as the runtime and loads the filter at the exec, as without the trampoline."""
    bundle.linux["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        *MKDIR_REFUSED["syscalls"],
        {"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 999, "op": "SCMP_CMP_EQ"}]}]}
    waiting, exe, out = _created_then_started(runtime, bundle, container_id)
    assert "python" in exe
    assert waiting["Seccomp"] == "0"
    assert "Operation not permitted" in out and "Seccomp:\t2" in out


# --- sysctl --------------------------------------------------------------------------------

def test_sysctl_in_namespaced_keys(runtime, bundle, container_id):
    host_forward = Path("/proc/sys/net/ipv4/ip_forward").read_text()
    host_shmmni = Path("/proc/sys/kernel/shmmni").read_text()
    bundle.linux["sysctl"] = {"net.ipv4.ip_forward": "1", "kernel.shmmni": "1234"}
    out = inside(runtime, bundle, container_id, "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmni")
    assert out.split() == ["1", "1234"]
    assert Path("/proc/sys/net/ipv4/ip_forward").read_text() == host_forward
    assert Path("/proc/sys/kernel/shmmni").read_text() == host_shmmni
