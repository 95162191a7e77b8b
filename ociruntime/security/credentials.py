"""Who the container process is: user, groups, umask, capabilities, no_new_privs, rlimits,
oom_score_adj and LSM labels.

`plan_credentials` runs in the parent before anything is created: it validates every field
(errors name the JSON path) and checks what the host can give (the capability bounding set,
raising hard rlimits, AppArmor). The apply_* functions run in the container init, in this
order (the order runc uses, libcontainer/standard_init_linux.go and init_linux.go):

    apply_oom_score_adj   early, while the process is still dumpable and in the host's
                          user namespace (runc: nsexec stage 0)
    apply_rlimits         while privileged; with a user namespace call it from the parent
                          on the init's pid (raising a hard limit needs CAP_SYS_RESOURCE in
                          the initial user namespace, which a process in a child one lacks)
    apply_lsm             writes the exec attribute; takes effect at execve
    apply_user_and_capabilities
                          no_new_privs, bounding set, keep-caps, setgroups, setresgid,
                          setresuid, capset, ambient, umask: the last steps before exec
    (exec step)           seccomp, then execve, in C (ociruntime.linux.exec)

What the container sees after execve (what runtime-tools' runtimetest reads in
/proc/self/status): the kernel recomputes permitted and effective at exec. For uid 0 both
become bounding | inheritable; for any other uid (without file capabilities) both become
the ambient set. Bounding, inheritable and ambient carry over as set here. So a config gets
exactly its sets when, as runtime-tools and Docker configs do, they agree with those rules.
"""

from __future__ import annotations

import errno
import os

from ociruntime.errors import ConfigError, KernelError, OciError, UnsupportedError
from ociruntime.records import record
from ociruntime.security.capabilities import CapabilitySets
from ociruntime.security.rlimits import Rlimit

_ID_MAX = 2**32 - 2  # (uid_t)-1 means "unchanged" to the kernel


@record
class ProcessCredentials:
    uid: int = 0
    gid: int = 0
    additional_gids: tuple[int, ...] = ()
    umask: int | None = None  # None: runc's default, 0o022
    capabilities: CapabilitySets = CapabilitySets()
    no_new_privileges: bool = False
    rlimits: tuple[Rlimit, ...] = ()  # (resource number, soft, hard), in config order
    oom_score_adj: int | None = None  # None: leave it alone (the spec says MUST NOT change)
    apparmor_profile: str | None = None
    selinux_label: str | None = None
    # Host facts captured at plan time (inside the container, /sys may not show them).
    apparmor_enabled: bool = False
    selinux_enabled: bool = False
    # Where these came from, for error messages raised while applying.
    path: str = "process"
    file: str = "config.json"

    def at(self, suffix: str) -> str:
        return f"{self.path}.{suffix}" if self.path else suffix


# ---------------------------------------------------------------------------------------
# Planning (pure, apart from reading host facts in /proc and /sys)
# ---------------------------------------------------------------------------------------

def plan_credentials(process: dict, *, path: str = "process", file: str = "config.json",
                     in_user_namespace: bool = False, check_host: bool = True) -> ProcessCredentials:
    """Validate `process` (the config's process object) into ProcessCredentials.

    in_user_namespace: the container creates or joins a user namespace; its bounding set
    then starts full, so the host's bounding set does not limit the capabilities.
    check_host=False skips the host checks (for tests of pure planning).
    """
    from ociruntime.security import capabilities, rlimits

    def at(suffix: str) -> str:
        return f"{path}.{suffix}" if path else suffix

    if not isinstance(process, dict):
        raise ConfigError(path, "must be an object", file=file)
    user = process.get("user")
    if user is None:
        user = {}
    if not isinstance(user, dict):
        raise ConfigError(at("user"), "must be an object", file=file)
    uid = _parse_id(user.get("uid", 0), at("user.uid"), file)
    gid = _parse_id(user.get("gid", 0), at("user.gid"), file)
    gids_raw = user.get("additionalGids")
    if gids_raw is None:
        gids_raw = []
    if not isinstance(gids_raw, list):
        raise ConfigError(at("user.additionalGids"), "must be an array of group ids", file=file)
    additional_gids = tuple(_parse_id(g, at(f"user.additionalGids[{i}]"), file) for i, g in enumerate(gids_raw))
    umask = user.get("umask")
    if umask is not None and not (_is_int(umask) and 0 <= umask <= 0o7777):
        raise ConfigError(at("user.umask"), f"{umask!r} is not a valid umask (0 to 0o7777)", file=file)

    caps_raw = process.get("capabilities")
    caps = capabilities.parse_capabilities(caps_raw, path=at("capabilities"), file=file)
    limits = rlimits.parse_rlimits(process.get("rlimits"), path=at("rlimits"), file=file)

    nnp = process.get("noNewPrivileges", False)
    if nnp is None:
        nnp = False
    if not isinstance(nnp, bool):
        raise ConfigError(at("noNewPrivileges"), f"{nnp!r} is not a boolean", file=file)
    oom = process.get("oomScoreAdj")
    if oom is not None and not (_is_int(oom) and -1000 <= oom <= 1000):
        raise ConfigError(at("oomScoreAdj"), f"{oom!r} is not an integer from -1000 to 1000", file=file)
    apparmor = _optional_string(process.get("apparmorProfile"), at("apparmorProfile"), file)
    selinux = _optional_string(process.get("selinuxLabel"), at("selinuxLabel"), file)

    from ociruntime.security import lsm

    aa_enabled = lsm.apparmor_enabled() if apparmor else False
    se_enabled = lsm.selinux_enabled() if selinux else False
    if check_host:
        if apparmor and not aa_enabled:
            raise lsm.apparmor_unsupported(at("apparmorProfile"), file)
        check_bounding = caps_raw is not None and not in_user_namespace
        if check_bounding or limits:
            host = capabilities.read_status_masks("CapBnd", "CapEff")  # one read for both checks
            if check_bounding:
                capabilities.check_host_bounding(caps_raw, host["CapBnd"], path=at("capabilities"), file=file)
            can_raise = bool(host["CapEff"] >> capabilities.CAP_SYS_RESOURCE & 1)
            rlimits.check_host_rlimits(limits, can_raise=can_raise, path=at("rlimits"), file=file)
    if selinux and not se_enabled:
        from ociruntime.log import logger

        logger.debug(f"{file}: {at('selinuxLabel')}: SELinux is not enabled on this host; label ignored")

    return ProcessCredentials(
        uid=uid, gid=gid, additional_gids=additional_gids, umask=umask, capabilities=caps,
        no_new_privileges=nnp, rlimits=limits, oom_score_adj=oom, apparmor_profile=apparmor,
        selinux_label=selinux, apparmor_enabled=aa_enabled, selinux_enabled=se_enabled,
        path=path, file=file,
    )


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _parse_id(value: object, where: str, file: str) -> int:
    if not (_is_int(value) and 0 <= value <= _ID_MAX):  # type: ignore[operator]
        raise ConfigError(where, f"{value!r} is not a valid id (0 to {_ID_MAX})", file=file)
    return value  # type: ignore[return-value]


def _optional_string(value: object, where: str, file: str) -> str | None:
    if value is None or value == "":
        return None  # runc: an empty profile/label means none
    if not isinstance(value, str):
        raise ConfigError(where, f"{value!r} is not a string", file=file)
    return value


# ---------------------------------------------------------------------------------------
# Applying, in the container init
# ---------------------------------------------------------------------------------------

def apply_rlimits(creds: ProcessCredentials, *, pid: int = 0) -> None:
    """Set every rlimit on `pid` (0: this process). Needs the privileges of the host's user
    namespace to raise a hard limit: call it before entering a new user namespace, or from
    the parent with the init's pid."""
    from ociruntime.security.rlimits import apply_rlimits as apply

    apply(creds.rlimits, pid=pid, path=creds.at("rlimits"), file=creds.file)


def apply_oom_score_adj(creds: ProcessCredentials) -> None:
    """Write /proc/self/oom_score_adj (through a verified procfs fd); nothing if unset.

    Lowering it below the current minimum needs CAP_SYS_RESOURCE; the value is inherited by
    children, so doing it early (before the user namespace, as runc does) is enough.
    """
    if creds.oom_score_adj is None:
        return
    from ociruntime.security.procfs import write_proc_file

    try:
        write_proc_file("self/oom_score_adj", str(creds.oom_score_adj).encode())
    except OSError as err:
        hint = " (lowering it needs CAP_SYS_RESOURCE)" if err.errno == errno.EACCES else ""
        raise KernelError(f"{creds.file}: {creds.at('oomScoreAdj')}: unable to set oom_score_adj to "
                          f"{creds.oom_score_adj}: {os.strerror(err.errno or errno.EIO).lower()}{hint}",
                          err.errno or 0) from None


def apply_lsm(creds: ProcessCredentials) -> None:
    """Set the AppArmor profile / SELinux label the kernel applies at the next execve."""
    from ociruntime.security import lsm

    if creds.apparmor_profile:
        if not creds.apparmor_enabled:
            raise lsm.apparmor_unsupported(creds.at("apparmorProfile"), creds.file)
        lsm.apply_apparmor_profile(creds.apparmor_profile, field=creds.at("apparmorProfile"), file=creds.file)
    if creds.selinux_label:
        if creds.selinux_enabled:
            lsm.apply_selinux_label(creds.selinux_label, field=creds.at("selinuxLabel"), file=creds.file)
        else:
            from ociruntime.log import logger

            logger.debug(f"{creds.file}: {creds.at('selinuxLabel')}: SELinux is not enabled; label ignored")


def apply_user_and_capabilities(creds: ProcessCredentials, *, seccomp_pending: bool = False) -> None:
    """The last privileged steps before exec, in runc's order (finalizeNamespace):

    no_new_privs; drop the bounding set; keep-caps on; chown stdio to the user; setgroups;
    setresgid; setresuid; keep-caps off; capset(effective, permitted, inheritable); ambient
    raises; umask. The parent-death signal, which a uid/gid change clears, is restored.

    seccomp_pending: a seccomp filter is loaded after this returns (by the exec step). Without
    no_new_privs the kernel then needs CAP_SYS_ADMIN in the effective set, so it is kept in
    effective and permitted (if held). execve recomputes both sets, so the container never
    sees it unless configured; to be exact even before exec, pass exec_capabilities(creds)
    to ociruntime.linux.exec.execve, which sets the final sets after loading the filter.
    """
    from ociruntime.linux import procattr
    from ociruntime.security import capabilities as capmod

    caps = creds.capabilities
    pdeathsig = procattr.get_pdeathsig()
    if creds.no_new_privileges:
        procattr.set_no_new_privs()
    capmod.drop_bounding(caps.resolved("bounding"))
    procattr.set_keepcaps(True)
    _fix_stdio_ownership(creds.uid)
    _set_groups(creds)
    _set_ids(creds)
    procattr.set_keepcaps(False)

    effective = caps.resolved("effective")
    permitted = caps.resolved("permitted")
    if seccomp_pending and not creds.no_new_privileges:
        held = capmod.read_status_masks("CapPrm")["CapPrm"]
        if held >> capmod.CAP_SYS_ADMIN & 1:
            effective = effective | {capmod.CAP_SYS_ADMIN}
            permitted = permitted | {capmod.CAP_SYS_ADMIN}
    capmod.set_capabilities(effective, permitted, caps.resolved("inheritable"),
                            path=creds.at("capabilities"), file=creds.file)
    capmod.set_ambient(capmod.effective_ambient(caps), path=creds.at("capabilities"), file=creds.file)
    os.umask(0o022 if creds.umask is None else creds.umask)
    if pdeathsig and procattr.get_pdeathsig() != pdeathsig:
        procattr.set_pdeathsig(pdeathsig)


def exec_capabilities(creds: ProcessCredentials):  # noqa: ANN201 - ociruntime.linux.exec.CapabilitySets
    """The final sets for ociruntime.linux.exec.execve(capabilities=...)."""
    from ociruntime.linux.exec import CapabilitySets as ExecSets
    from ociruntime.security.capabilities import final_masks

    masks = final_masks(creds.capabilities)
    return ExecSets(effective=masks.effective, permitted=masks.permitted,
                    inheritable=masks.inheritable, ambient=masks.ambient)


def _fix_stdio_ownership(uid: int) -> None:
    """Give the user its stdio (runc's fixStdioPermissions): a console or pipe created by the
    runtime belongs to root, and a non-root process could not reopen /proc/self/fd/N."""
    try:
        null_rdev = os.stat("/dev/null").st_rdev
    except OSError:
        null_rdev = None
    for fd in (0, 1, 2):
        try:
            st = os.fstat(fd)
        except OSError:
            continue  # closed
        if st.st_uid == uid or (null_rdev is not None and st.st_rdev == null_rdev):
            continue
        try:
            os.fchown(fd, uid, st.st_gid)
        except OSError as err:
            # Not mapped in the user namespace, owner not mapped, or a read-only /dev: leave it.
            if err.errno not in (errno.EINVAL, errno.EPERM, errno.EROFS):
                raise KernelError(f"unable to chown stdio fd {fd} to uid {uid}: {err.strerror}",
                                  err.errno) from None


def _setgroups_denied() -> bool:
    """In a user namespace whose setgroups file says "deny", setgroups(2) always fails."""
    try:
        with open("/proc/self/setgroups", "rb") as fh:
            return fh.read().strip() == b"deny"
    except OSError:
        return False


def _set_groups(creds: ProcessCredentials) -> None:
    if _setgroups_denied():
        if creds.additional_gids:
            raise UnsupportedError(f"{creds.file}: {creds.at('user.additionalGids')}: cannot set "
                                   "additional groups: setgroups is denied in this user namespace")
        return  # nothing asked; runc also leaves the inherited list alone here
    try:
        os.setgroups(list(creds.additional_gids))
    except OSError as err:
        raise _id_error(err, "user.additionalGids", f"setgroups {list(creds.additional_gids)}",
                        creds) from None


def _set_ids(creds: ProcessCredentials) -> None:
    try:
        os.setresgid(creds.gid, creds.gid, creds.gid)
    except OSError as err:
        raise _id_error(err, "user.gid", f"setresgid {creds.gid}", creds) from None
    try:
        os.setresuid(creds.uid, creds.uid, creds.uid)
    except OSError as err:
        raise _id_error(err, "user.uid", f"setresuid {creds.uid}", creds) from None


def _id_error(err: OSError, suffix: str, what: str, creds: ProcessCredentials) -> OciError:
    where = f"{creds.file}: {creds.at(suffix)}"
    if err.errno == errno.EINVAL:
        # The id has no mapping in the container's user namespace.
        return ConfigError(creds.at(suffix), f"{what}: the id is not mapped in the user namespace",
                           file=creds.file)
    return KernelError(f"{where}: {what}: {os.strerror(err.errno or errno.EIO).lower()}", err.errno or 0)
