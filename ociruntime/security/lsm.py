"""Linux security modules: process.apparmorProfile and process.selinuxLabel.

Both take effect at execve: we write the profile/label to the process's "exec" attribute
(through a verified procfs fd, see procfs.py) and the kernel applies it on exec.

- AppArmor, when enabled, gets "exec <profile>" (runc's changeOnExec); a profile asked for
  on a host without AppArmor is an error naming the field (runc fails there too, with
  "write /proc/self/attr/exec: invalid argument").
- SELinux, when enabled, gets the label; without SELinux the label is ignored with a debug
  line, as crun does (runtime-tools' linux_mount_label depends on that).
Whether each is enabled is decided on the host at plan time (inside the container /sys may
not show it), and carried in the credentials.
"""

from __future__ import annotations

import errno
import os

from ociruntime.errors import KernelError, UnsupportedError

_APPARMOR_ENABLED = "/sys/module/apparmor/parameters/enabled"
_SELINUX_FS = "/sys/fs/selinux"


def apparmor_enabled() -> bool:
    """AppArmor is built in and enabled (the module parameter reads "Y")."""
    try:
        with open(_APPARMOR_ENABLED, "rb") as fh:
            return fh.read(1) == b"Y"
    except OSError:
        return False


def selinux_enabled() -> bool:
    """selinuxfs is mounted, which is how go-selinux and crun detect an enabled SELinux."""
    return os.path.exists(os.path.join(_SELINUX_FS, "enforce"))


def apparmor_unsupported(field: str, file: str = "config.json") -> UnsupportedError:
    return UnsupportedError(f"{file}: {field}: AppArmor is not enabled on this host, "
                            "so the profile cannot be applied")


def apply_apparmor_profile(profile: str, *, field: str, file: str = "config.json") -> None:
    """Have the kernel switch to `profile` at the next execve."""
    from ociruntime.security.procfs import write_proc_file

    data = f"exec {profile}".encode()
    # Since Linux 5.1 AppArmor has its own attr directory; the shared one is the fallback.
    last: OSError | None = None
    for relative in ("thread-self/attr/apparmor/exec", "thread-self/attr/exec"):
        try:
            write_proc_file(relative, data)
            return
        except OSError as err:
            last = err
            if err.errno != errno.ENOENT:
                break
    assert last is not None
    if last.errno in (errno.ENOENT, errno.EINVAL) and not apparmor_enabled():
        raise apparmor_unsupported(field, file) from None
    raise KernelError(f"{file}: {field}: unable to apply AppArmor profile {profile!r}: "
                      f"{os.strerror(last.errno or errno.EIO).lower()}", last.errno or 0) from None


def apply_selinux_label(label: str, *, field: str, file: str = "config.json") -> None:
    """Have the kernel switch to `label` at the next execve."""
    from ociruntime.security.procfs import write_proc_file

    try:
        write_proc_file("thread-self/attr/exec", label.encode())
    except OSError as err:
        raise KernelError(f"{file}: {field}: unable to set SELinux exec label {label!r}: "
                          f"{os.strerror(err.errno or errno.EIO).lower()}", err.errno or 0) from None
