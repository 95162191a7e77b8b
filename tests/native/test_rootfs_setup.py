"""Rootfs set-up against the real kernel: prepare -> enter -> finalize in a forked child
with its own mount namespace, on a tiny busybox rootfs, checked from inside.

Checks run after pivot_root, where only already-imported modules work: they use os/stat
and the ociruntime modules the set-up loaded. Errors come back as plain tuples (the
runtime's exceptions do not round-trip through pickle).
"""

from __future__ import annotations

import copy
import errno
import os
import shutil
import stat
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from native.support import mountinfo, run_forked
from ociruntime.errors import OciError
from ociruntime.linux import mounts, namespaces
from ociruntime.rootfs import enter_rootfs, finalize_rootfs, plan_rootfs, prepare_rootfs
from ociruntime.rootfs.plan import RootfsPlan

BUSYBOX = "/bin/busybox"

BASE_MOUNTS = [
    {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
     "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
    {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
     "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
    {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
     "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
    {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
    {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
]


# -- helpers (also used by test_rootfs_attacks.py) ------------------------------------------


def host_mount_table() -> Counter:
    return Counter((m.mount_point, m.fstype, m.source) for m in mountinfo())


def host_mounts_guard() -> Iterator[None]:
    """Stricter than the suite's check: the same mounts, counted (stacked ones too)."""
    before = host_mount_table()
    yield
    assert host_mount_table() == before, "the host's mount table changed"


@pytest.fixture(autouse=True)
def _host_mounts_unchanged() -> Iterator[None]:
    yield from host_mounts_guard()


def make_bundle(base: Path) -> Path:
    """bundle/rootfs with a static busybox, /etc, /tmp and empty mount points."""
    root = base / "rootfs"
    for name in ("bin", "etc", "tmp", "proc", "sys", "dev", "mnt"):
        (root / name).mkdir(parents=True)
    shutil.copy2(BUSYBOX, root / "bin" / "busybox")
    (root / "bin" / "sh").symlink_to("busybox")
    (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    os.chmod(root / "tmp", 0o1777)
    return base


def config(mounts: list[dict] | None = None, **linux: Any) -> dict:
    return {
        "ociVersion": "1.3.0",
        "root": {"path": "rootfs"},
        "mounts": copy.deepcopy(BASE_MOUNTS) + (mounts or []),
        "linux": {"namespaces": [{"type": "mount"}], **linux},
    }


def in_container(
    cfg: dict,
    bundle: Path,
    check: Callable[[], Any],
    *,
    before: Callable[[], None] | None = None,
    between: Callable[[RootfsPlan], None] | None = None,
    no_pivot: bool = False,
    unshare: int = 0,
    tweak: Callable[[RootfsPlan], RootfsPlan] | None = None,
) -> Any:
    """Plan in the test process, then in a child: new mount namespace (+ unshare), before(),
    prepare, between(plan), enter, finalize, check(). Returns check()'s value, or
    ("error", type name, message, errno) if the runtime refused."""
    plan = plan_rootfs(cfg, str(bundle), no_pivot=no_pivot)
    if tweak is not None:
        plan = tweak(plan)

    def child() -> Any:
        namespaces.unshare(namespaces.CLONE_NEWNS | unshare)
        if before is not None:
            before()
        try:
            prepare_rootfs(plan)
            if between is not None:
                between(plan)
            enter_rootfs(plan)
            finalize_rootfs(plan)
        except OciError as err:
            return ("error", type(err).__name__, str(err), getattr(err, "errno", None))
        return check()

    return run_forked(child)


def mounts_inside() -> list[tuple[str, str, str, str, set[str]]]:
    """(mount point, fstype, source, root, per-mount options) from inside."""
    found = []
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        for line in f:
            left, right = line.split(" - ", 1)
            fields = left.split(" ")
            fstype, source, _ = right.split(" ", 2)
            found.append((fields[4], fstype, source, fields[3], set(fields[5].split(","))))
    return found


def write_errno(path: str) -> int:
    """0 if writing a new file at path (or into the directory path) works, else the errno."""
    target = os.path.join(path, "probe") if os.path.isdir(path) else path
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT, 0o644)
    except OSError as err:
        return err.errno
    os.close(fd)
    return 0


def device(path: str) -> tuple[str, int, int, int, int, int]:
    st = os.lstat(path)
    kind = "c" if stat.S_ISCHR(st.st_mode) else "b" if stat.S_ISBLK(st.st_mode) else \
        "p" if stat.S_ISFIFO(st.st_mode) else "?"
    return kind, os.major(st.st_rdev), os.minor(st.st_rdev), stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    return make_bundle(tmp_path)


# -- the usual container ----------------------------------------------------------------------


def test_containerd_shaped_rootfs_from_inside(bundle: Path) -> None:
    cfg = config(
        [{"destination": "/run", "type": "tmpfs", "source": "tmpfs",
          "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}],
        maskedPaths=["/proc/timer_list", "/proc/acpi", "/sys/firmware", "/no/such/path"],
        readonlyPaths=["/proc/sys", "/proc/sysrq-trigger", "/no/such/either"],
    )

    def check() -> dict:
        table = mounts_inside()
        with open("/proc/timer_list", "rb") as f:
            masked_file = f.read()
        return {
            "table": [(mp, fs, src) for mp, fs, src, _, _ in table],
            "options": {mp: opts for mp, _, _, _, opts in table},
            "host_invisible": not os.path.exists(str(bundle)),
            "etc": sorted(os.listdir("/etc")),
            "devices": {p: device(p) for p in ("/dev/null", "/dev/zero", "/dev/full", "/dev/random",
                                               "/dev/urandom", "/dev/tty")},
            "links": {p: os.readlink(p) for p in ("/dev/fd", "/dev/stdin", "/dev/stdout", "/dev/stderr",
                                                  "/dev/ptmx")},
            "proc_sys": write_errno("/proc/sys/kernel/hostname"),
            "sys": write_errno("/sys/kernel/uevent_helper"),
            "masked_file": masked_file,
            "masked_dir": os.listdir("/sys/firmware"),
            "masked_dir_write": write_errno("/sys/firmware"),
            "run": write_errno("/run"),
            "cwd": os.getcwd(),
        }

    got = in_container(cfg, bundle, check)
    table = got["table"]
    assert table[0][0] == "/" and table[0][1] in ("ext4", "xfs", "btrfs", "tmpfs", "overlay")
    assert [(mp, fs, src) for mp, fs, src in table[1:8]] == [
        ("/proc", "proc", "proc"), ("/dev", "tmpfs", "tmpfs"), ("/dev/pts", "devpts", "devpts"),
        ("/dev/shm", "tmpfs", "shm"), ("/dev/mqueue", "mqueue", "mqueue"), ("/sys", "sysfs", "sysfs"),
        ("/run", "tmpfs", "tmpfs"),
    ]
    assert ("/proc/sys", "proc", "proc") in table and ("/sys/firmware", "tmpfs", "tmpfs") in table
    # the masked file has the container's /dev/null (on its /dev tmpfs) bound over it
    assert ("/proc/timer_list", "tmpfs", "tmpfs") in table
    assert {"ro", "nosuid", "nodev", "noexec"} <= got["options"]["/proc/sys"]  # flags kept, ro added
    assert {"nosuid", "nodev", "noexec"} <= got["options"]["/proc"]
    assert "ro" in got["options"]["/sys"]
    assert got["host_invisible"] and got["etc"] == ["passwd"]
    assert got["devices"] == {
        "/dev/null": ("c", 1, 3, 0o666, 0, 0), "/dev/zero": ("c", 1, 5, 0o666, 0, 0),
        "/dev/full": ("c", 1, 7, 0o666, 0, 0), "/dev/random": ("c", 1, 8, 0o666, 0, 0),
        "/dev/urandom": ("c", 1, 9, 0o666, 0, 0), "/dev/tty": ("c", 5, 0, 0o666, 0, 0),
    }
    assert got["links"] == {"/dev/fd": "/proc/self/fd", "/dev/stdin": "/proc/self/fd/0",
                            "/dev/stdout": "/proc/self/fd/1", "/dev/stderr": "/proc/self/fd/2",
                            "/dev/ptmx": "pts/ptmx"}
    assert got["proc_sys"] == errno.EROFS
    assert got["sys"] == errno.EROFS
    assert got["masked_file"] == b""
    assert got["masked_dir"] == [] and got["masked_dir_write"] == errno.EROFS
    assert got["run"] == 0
    assert got["cwd"] == "/"


def test_root_readonly_leaves_tmpfs_writable(bundle: Path) -> None:
    cfg = config([{"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid"]}])
    cfg["root"]["readonly"] = True

    def check() -> tuple[int, int, int, int]:
        return write_errno("/"), write_errno("/etc"), write_errno("/tmp"), write_errno("/dev/shm")

    assert in_container(cfg, bundle, check) == (errno.EROFS, errno.EROFS, 0, 0)
    assert not (bundle / "rootfs" / "tmp" / "probe").exists()


def test_readonly_tmpfs_dev_still_gets_its_devices(bundle: Path) -> None:
    cfg = config()
    cfg["mounts"][1]["options"].append("ro")  # /dev tmpfs read-only

    def check() -> tuple[Any, int, set[str]]:
        opts = next(o for mp, _, _, _, o in mounts_inside() if mp == "/dev")
        return device("/dev/null"), write_errno("/dev"), opts

    null, dev_write, opts = in_container(cfg, bundle, check)
    assert null == ("c", 1, 3, 0o666, 0, 0)
    assert dev_write == errno.EROFS and "ro" in opts


def test_tmpfs_keeps_the_mode_of_the_directory_it_covers(bundle: Path) -> None:
    cfg = config([{"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid"]}])

    def check() -> int:
        return stat.S_IMODE(os.stat("/tmp").st_mode)

    assert in_container(cfg, bundle, check) == 0o1777


def test_linux_devices_with_modes_and_owners(bundle: Path) -> None:
    cfg = config(devices=[
        {"path": "/dev/test1", "type": "c", "major": 10, "minor": 666, "fileMode": 0o660, "uid": 1, "gid": 2},
        {"path": "/dev/sub/test2", "type": "b", "major": 8, "minor": 666, "fileMode": 0o640},
        {"path": "/dev/test3", "type": "p", "fileMode": 0o600},
        {"path": "/dev/null", "type": "c", "major": 1, "minor": 3, "fileMode": 0o620, "uid": 3, "gid": 4},
        {"path": "/opt/outside-dev", "type": "u", "major": 1, "minor": 7},
        {"path": "/dev/setid", "type": "c", "major": 1, "minor": 5, "fileMode": 0o4755, "uid": 5},
    ])

    def check() -> list:
        return [device(p) for p in ("/dev/test1", "/dev/sub/test2", "/dev/test3", "/dev/null",
                                    "/opt/outside-dev", "/dev/setid")]

    assert in_container(cfg, bundle, check) == [
        ("c", 10, 666, 0o660, 1, 2),
        ("b", 8, 666, 0o640, 0, 0),
        ("p", 0, 0, 0o600, 0, 0),
        ("c", 1, 3, 0o620, 3, 4),
        ("c", 1, 7, 0o666, 0, 0),
        ("c", 1, 5, 0o4755, 5, 0),
    ]
    # /opt/outside-dev is on the rootfs itself (no tmpfs there), so it stays: runc does the same.
    assert stat.S_ISCHR(os.lstat(bundle / "rootfs" / "opt" / "outside-dev").st_mode)


def test_existing_device_that_matches_is_kept_and_a_mismatch_is_refused(bundle: Path) -> None:
    os.mknod(bundle / "rootfs" / "dev" / "null", stat.S_IFCHR | 0o600, os.makedev(1, 3))
    no_dev_tmpfs = config()
    no_dev_tmpfs["mounts"] = [m for m in no_dev_tmpfs["mounts"] if not m["destination"].startswith("/dev")]

    def check() -> Any:
        return device("/dev/null")

    assert in_container(no_dev_tmpfs, bundle, check) == ("c", 1, 3, 0o600, 0, 0)

    # The first run made the other default nodes on the rootfs itself; swap one for a file.
    (bundle / "rootfs" / "dev" / "zero").unlink()
    (bundle / "rootfs" / "dev" / "zero").write_text("not a device")
    result = in_container(no_dev_tmpfs, bundle, check)
    assert result[:2] == ("error", "ConfigError")
    assert "linux.devices" in result[2] and '"/dev/zero" already exists' in result[2]


def test_devices_are_bind_mounted_in_a_user_namespace(bundle: Path) -> None:
    """The userns path (no mknod): host nodes bound over empty files."""

    def check() -> tuple[Any, list]:
        binds = [mp for mp, _, _, _, _ in mounts_inside() if mp.startswith("/dev/") and mp[5:] in
                 ("null", "zero", "full", "random", "urandom", "tty")]
        return device("/dev/null")[:3], sorted(binds)

    null, binds = in_container(config(), bundle, check, tweak=lambda p: p._replace(user_ns=True))
    assert null == ("c", 1, 3)
    assert binds == ["/dev/full", "/dev/null", "/dev/random", "/dev/tty", "/dev/urandom", "/dev/zero"]


def test_bind_mounts_of_files_and_directories_with_options(bundle: Path, tmp_path: Path) -> None:
    src_dir = tmp_path / "src"
    (src_dir / "sub").mkdir(parents=True)
    (src_dir / "data").write_text("hello")
    host_file = tmp_path / "hostname"
    host_file.write_text("box\n")
    cfg = config([
        {"destination": "/etc/hostname", "type": "bind", "source": str(host_file), "options": ["bind", "ro"]},
        {"destination": "/data/ro", "source": str(src_dir), "options": ["rbind", "ro", "nosuid"]},
        {"destination": "/data/rro", "source": str(src_dir), "options": ["rbind", "rro"]},
        {"destination": "/data/rw", "source": str(src_dir), "options": ["bind", "rprivate"]},
    ])

    def before() -> None:
        # A submount in the source, to tell "ro" (top only) from "rro" (whole tree).
        mounts.mount(None, "/", None, mounts.MS_REC | mounts.MS_PRIVATE)
        mounts.mount("tmpfs", str(src_dir / "sub"), "tmpfs", 0)

    def check() -> dict:
        with open("/etc/hostname") as f:
            hostname = f.read()
        return {
            "hostname": hostname,
            "hostname_write": write_errno("/etc/hostname"),
            "ro_top": write_errno("/data/ro"),
            "ro_sub": write_errno("/data/ro/sub"),
            "rro_sub": write_errno("/data/rro/sub"),
            "rw": write_errno("/data/rw"),
            "ro_opts": next(o for mp, _, _, _, o in mounts_inside() if mp == "/data/ro"),
        }

    got = in_container(cfg, bundle, check, before=before)
    assert got["hostname"] == "box\n" and got["hostname_write"] == errno.EROFS
    assert got["ro_top"] == errno.EROFS and got["ro_sub"] == 0
    assert got["rro_sub"] == errno.EROFS
    assert got["rw"] == 0 and (src_dir / "probe").exists()
    assert {"ro", "nosuid"} <= got["ro_opts"]
    assert (bundle / "rootfs" / "etc" / "hostname").read_text() == ""  # an empty target file was made


def test_tmpcopyup_copies_what_the_directory_held(bundle: Path) -> None:
    app = bundle / "rootfs" / "opt" / "app"
    (app / "sub").mkdir(parents=True)
    (app / "config").write_text("key=value\n")
    (app / "sub" / "inner").write_text("deep")
    os.chmod(app / "config", 0o640)
    (app / "link").symlink_to("config")
    cfg = config([{"destination": "/opt/app", "type": "tmpfs", "source": "tmpfs", "options": ["tmpcopyup"]}])

    def check() -> tuple:
        with open("/opt/app/link") as f, open("/opt/app/sub/inner") as g:
            content = (f.read(), g.read())
        mode = stat.S_IMODE(os.stat("/opt/app/config").st_mode)
        with open("/opt/app/config", "a") as f:
            f.write("more\n")
        fstype = next(fs for mp, fs, _, _, _ in mounts_inside() if mp == "/opt/app")
        return content, mode, os.readlink("/opt/app/link"), fstype

    content, mode, link, fstype = in_container(cfg, bundle, check)
    assert content == ("key=value\n", "deep") and mode == 0o640 and link == "config" and fstype == "tmpfs"
    assert (app / "config").read_text() == "key=value\n"  # the image is untouched


@pytest.mark.parametrize(
    "propagation,expected",
    [("shared", ("exposed", True)), ("slave", ("exposed", False)), ("private", ("exposed", False)),
     ("unbindable", ("bind-failed", errno.EINVAL))],
)
def test_rootfs_propagation_as_runtime_tools_checks_it(bundle: Path, propagation: str, expected: tuple) -> None:
    """runtimetest's validateRootfsPropagation, from inside."""
    cfg = config(rootfsPropagation=propagation)

    def check() -> tuple:
        for name in ("target", "mnt1", "test"):
            os.mkdir("/" + name)
        open("/test/example", "w").close()
        try:
            mounts.mount("/", "/target", None, mounts.MS_BIND | mounts.MS_REC)
        except OSError as err:
            return ("bind-failed", err.errno)
        mounts.mount("/test", "/mnt1", None, mounts.MS_BIND | mounts.MS_REC)
        return ("exposed", os.path.exists("/target/mnt1/example"))

    assert in_container(cfg, bundle, check) == expected


def test_no_pivot_moves_the_rootfs_and_chroots(bundle: Path) -> None:
    """--no-pivot: the host's procfs is detached before the move, and the masking that
    comes after still works (it mounts through a handle opened before)."""
    cfg = config(maskedPaths=["/sys/firmware", "/proc/timer_list"], readonlyPaths=["/proc/sys"])

    def check() -> tuple:
        table = [mp for mp, _, _, _, _ in mounts_inside()]
        return (sorted(os.listdir("/")), os.path.exists("/proc/self/fd"), "/proc" in table,
                os.listdir("/sys/firmware"), write_errno("/proc/sys/kernel/hostname"))

    listing, proc_ok, proc_mounted, firmware, proc_sys = in_container(cfg, bundle, check, no_pivot=True)
    assert listing == ["bin", "dev", "etc", "mnt", "proc", "sys", "tmp"]
    assert proc_ok and proc_mounted
    assert firmware == [] and proc_sys == errno.EROFS


def test_cgroup_mount_without_cgroup_namespace_binds_our_own_cgroups(bundle: Path) -> None:
    cfg = config([{"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
                   "options": ["rprivate", "nosuid", "noexec", "nodev", "relatime", "ro"]}])
    own = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        own[controllers or "unified"] = path

    def check() -> tuple:
        table = {mp: (fs, root, opts) for mp, fs, _, root, opts in mounts_inside()}
        return table, sorted(os.listdir("/sys/fs/cgroup")), write_errno("/sys/fs/cgroup"), \
            os.path.exists("/sys/fs/cgroup/memory/memory.limit_in_bytes")

    table, names, top_write, memory_files = in_container(cfg, bundle, check)
    assert table["/sys/fs/cgroup"][0] == "tmpfs" and top_write == errno.EROFS
    assert {"cpu", "memory", "systemd", "unified"} <= set(names)
    assert table["/sys/fs/cgroup/memory"][:2] == ("cgroup", own["memory"])
    assert table["/sys/fs/cgroup/unified"][:2] == ("cgroup2", own["unified"])
    assert "ro" in table["/sys/fs/cgroup/memory"][2]
    assert memory_files


def test_cgroup_mount_in_a_cgroup_namespace_is_fresh(bundle: Path) -> None:
    cfg = config([{"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["ro"]}])
    cfg["linux"]["namespaces"].append({"type": "cgroup"})

    def check() -> dict:
        return {mp: (fs, src, root) for mp, fs, src, root, _ in mounts_inside() if mp.startswith("/sys/fs/cgroup/")}

    table = in_container(cfg, bundle, check, unshare=namespaces.CLONE_NEWCGROUP)
    assert table["/sys/fs/cgroup/memory"] == ("cgroup", "cgroup", "/")
    assert table["/sys/fs/cgroup/systemd"] == ("cgroup", "systemd", "/")
    assert table["/sys/fs/cgroup/unified"] == ("cgroup2", "cgroup2", "/")


def test_a_failing_mount_names_the_entry_and_keeps_errno(bundle: Path) -> None:
    cfg = config([{"destination": "/bad", "type": "tmpfs", "source": "tmpfs", "options": ["size=lots"]}])
    result = in_container(cfg, bundle, lambda: "mounted")
    assert result[0] == "error" and result[1] == "KernelError"
    assert result[2].startswith("config.json: mounts[6]: mount tmpfs on /bad (type tmpfs, flags 0, data size=lots)")
    assert result[3] == errno.EINVAL


def test_unknown_filesystem_type_names_the_entry(bundle: Path) -> None:
    cfg = config([{"destination": "/x", "type": "nosuchfs", "source": "none"}])
    result = in_container(cfg, bundle, lambda: "mounted")
    assert result[:2] == ("error", "KernelError") and "config.json: mounts[6]:" in result[2]
    assert result[3] == errno.ENODEV


def _write_own_id_maps() -> None:
    """Map root of a fresh user namespace to our own (root) ids, one id each: all a
    process may write for itself."""
    with open("/proc/self/uid_map", "w") as f:
        f.write("0 0 1\n")
    with open("/proc/self/setgroups", "w") as f:
        f.write("deny")
    with open("/proc/self/gid_map", "w") as f:
        f.write("0 0 1\n")


def test_inside_a_user_namespace(bundle: Path) -> None:
    """A user namespace with pid, network and ipc namespaces of its own: no mknod (host
    nodes bound instead), devpts without gid=5 (unmapped), fresh sysfs and mqueue."""
    cfg = config(maskedPaths=["/proc/timer_list"], readonlyPaths=["/proc/sys"])
    cfg["root"]["readonly"] = True
    cfg["linux"]["namespaces"] += [{"type": t} for t in ("user", "pid", "network", "ipc")]
    plan = plan_rootfs(cfg, str(bundle))
    assert plan.user_ns

    def check() -> dict:
        table = {mp: (fs, opts) for mp, fs, _, _, opts in mounts_inside()}
        with open("/proc/timer_list", "rb") as f:
            masked = f.read()
        return {
            "pid": os.getpid(),
            "null": device("/dev/null")[:3],
            "null_is_bind": "/dev/null" in table,
            "pts": table["/dev/pts"][0],
            "sys": table["/sys"][0],
            "root_write": write_errno("/"),
            "proc_sys_write": write_errno("/proc/sys/kernel/hostname"),
            "masked": masked,
        }

    def child() -> Any:
        import pickle

        namespaces.unshare(namespaces.CLONE_NEWUSER)
        _write_own_id_maps()
        namespaces.unshare(namespaces.CLONE_NEWNS | namespaces.CLONE_NEWPID | namespaces.CLONE_NEWNET
                           | namespaces.CLONE_NEWIPC)
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # PID 1 of the new pid namespace: the container init
            try:
                try:
                    prepare_rootfs(plan)
                    enter_rootfs(plan)
                    finalize_rootfs(plan)
                    result: Any = check()
                except OciError as err:
                    result = ("error", type(err).__name__, str(err), getattr(err, "errno", None))
                os.write(write_fd, pickle.dumps(result))
            finally:
                os._exit(0)
        os.close(write_fd)
        data = b""
        while chunk := os.read(read_fd, 65536):
            data += chunk
        os.waitpid(pid, 0)
        return pickle.loads(data)

    got = run_forked(child)
    assert got == {
        "pid": 1, "null": ("c", 1, 3), "null_is_bind": True, "pts": "devpts", "sys": "sysfs",
        "root_write": errno.EROFS, "proc_sys_write": errno.EROFS, "masked": b"",
    }
