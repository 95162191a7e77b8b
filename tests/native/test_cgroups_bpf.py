"""cgroup v2 device control in the real kernel: the generated BPF_PROG_TYPE_CGROUP_DEVICE
program through ociruntime.linux.bpf (csrc/bpf.c), and the manager's v2 device path.

This host is hybrid: its cgroup2 hierarchy at /sys/fs/cgroup/unified has no v1 devices
controller in the way, so programs attached to a directory there decide device access
for the processes in it. A helper process moved into the test cgroup opens devices on
request, so one process sees attach, replace and detach happen.
"""

from __future__ import annotations

import errno
import os
import secrets
from collections.abc import Iterator

import pytest

from ociruntime.cgroups import bpf_devices
from ociruntime.cgroups.devices import WILDCARD, Emulator, Rule
from ociruntime.cgroups.layout import Hierarchy, Layout, read_layout
from ociruntime.cgroups.manager import CgroupManager
from ociruntime.cgroups.setup import manager_for
from ociruntime.errors import ConfigError
from ociruntime.linux import bpf
from native.support import move_into_cgroup

_BPF_EXIT = bpf_devices.insn(0x95)
_MOV_R0 = 0xB4


def _unified_mount() -> str:
    layout = read_layout()
    assert layout.unified is not None, "this host mounts cgroup2 (hybrid)"
    return layout.unified.mountpoint


@pytest.fixture
def cgroup2_dir() -> Iterator[str]:
    path = os.path.join(_unified_mount(), f"ocrtest-bpf-{secrets.token_hex(4)}")
    os.mkdir(path)
    try:
        yield path
    finally:
        os.rmdir(path)   # also detaches and frees whatever is still attached


class Prober:
    """A forked process that opens the given devices each time it is asked."""

    def __init__(self, probes: list[tuple[str, int]]) -> None:
        self.probes = probes
        cmd_r, self._cmd_w = os.pipe()
        self._out_r, out_w = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            try:
                os.close(self._cmd_w)
                os.close(self._out_r)
                while os.read(cmd_r, 1) == b"p":
                    os.write(out_w, (" ".join(self._probe(p, f) for p, f in probes) + "\n").encode())
            finally:
                os._exit(0)
        os.close(cmd_r)
        os.close(out_w)

    @staticmethod
    def _probe(path: str, flags: int) -> str:
        try:
            os.close(os.open(path, flags))
            return "ok"
        except OSError as e:
            return errno.errorcode[e.errno]

    def move_to(self, cgroup_dir: str) -> None:
        with open(os.path.join(cgroup_dir, "cgroup.procs"), "w") as f:
            f.write(str(self.pid))

    def run(self) -> list[str]:
        os.write(self._cmd_w, b"p")
        line = b""
        while not line.endswith(b"\n"):
            chunk = os.read(self._out_r, 1000)
            assert chunk, "prober died"
            line += chunk
        return line.decode().split()

    def stop(self) -> None:
        if self.pid <= 0:
            return
        os.write(self._cmd_w, b"q")
        os.close(self._cmd_w)
        os.close(self._out_r)
        _, status = os.waitpid(self.pid, 0)
        self.pid = -1
        assert os.waitstatus_to_exitcode(status) == 0


@pytest.fixture
def prober_factory() -> Iterator:
    started: list[Prober] = []

    def make(probes: list[tuple[str, int]]) -> Prober:
        started.append(Prober(probes))
        return started[-1]

    yield make
    for p in started:
        try:
            p.stop()
        except OSError:
            if p.pid > 0:
                os.kill(p.pid, 9)
                os.waitpid(p.pid, 0)


def _rules(*rules: Rule) -> Emulator:
    return Emulator.from_rules(list(rules))


ALLOW_ALL = Rule("a", WILDCARD, WILDCARD, "rwm", True)
NULL_ZERO = [("/dev/null", os.O_RDWR), ("/dev/zero", os.O_RDONLY)]


def _ours(cgroup_dir: str) -> list[int]:
    fd = os.open(cgroup_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        return bpf_devices.our_programs(fd)
    finally:
        os.close(fd)


def _attached(cgroup_dir: str) -> list[int]:
    fd = os.open(cgroup_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        return bpf.attached_ids(fd)
    finally:
        os.close(fd)


def test_attach_replace_detach_seen_by_a_process_inside(cgroup2_dir: str, prober_factory) -> None:
    prober = prober_factory(NULL_ZERO)
    prober.move_to(cgroup2_dir)
    assert prober.run() == ["ok", "ok"]

    # Attach: everything allowed except read/write of /dev/null (1:3).
    first = bpf_devices.load_and_attach(cgroup2_dir, _rules(ALLOW_ALL, Rule("c", 1, 3, "rw", False)))
    assert _attached(cgroup2_dir) == [first]
    fd = bpf.prog_fd_by_id(first)
    try:
        assert bpf.prog_info(fd) == (first, bpf.BPF_PROG_TYPE_CGROUP_DEVICE, bpf_devices.PROGRAM_NAME)
    finally:
        os.close(fd)
    assert prober.run() == ["EPERM", "ok"]

    # Update: the new program is attached and the old one detached (and freed).
    second = bpf_devices.load_and_attach(cgroup2_dir, _rules(ALLOW_ALL, Rule("c", 1, 5, "r", False)))
    assert second != first
    assert _attached(cgroup2_dir) == [second]
    with pytest.raises(FileNotFoundError):
        bpf.prog_fd_by_id(first)
    assert prober.run() == ["ok", "EPERM"]

    # Detach: no program, no restriction.
    assert bpf_devices.detach_ours(cgroup2_dir) == 1
    assert _attached(cgroup2_dir) == []
    assert prober.run() == ["ok", "ok"]


def test_rules_decide_access_as_the_v1_controller_would(cgroup2_dir: str, prober_factory) -> None:
    rules = _rules(Rule("a", WILDCARD, WILDCARD, "rwm", False), Rule("c", 1, 3, "rw", True),
                   Rule("c", 1, 5, "r", True), Rule("c", 1, WILDCARD, "m", True),
                   Rule("c", 1, 9, "rwm", True), Rule("c", 1, 9, "w", False))
    bpf_devices.load_and_attach(cgroup2_dir, rules)
    prober = prober_factory([("/dev/null", os.O_RDWR), ("/dev/zero", os.O_RDONLY),
                             ("/dev/zero", os.O_WRONLY), ("/dev/full", os.O_RDONLY),
                             ("/dev/urandom", os.O_RDONLY)])
    prober.move_to(cgroup2_dir)
    # null: rw allowed; zero: read only; full: no rule; urandom: rwm minus w -> read ok.
    assert prober.run() == ["ok", "ok", "EPERM", "EPERM", "ok"]


def test_a_program_of_someone_else_stays_attached(cgroup2_dir: str, prober_factory) -> None:
    code = bpf_devices.program(_rules(ALLOW_ALL, Rule("c", 1, 5, "rw", False)))
    foreign = bpf.load_cgroup_device(code, "GPL", "other_filter")
    dir_fd = os.open(cgroup2_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        bpf.attach(dir_fd, foreign, bpf.BPF_F_ALLOW_MULTI)
        foreign_id = bpf.prog_info(foreign)[0]
        ours1 = bpf_devices.load_and_attach(cgroup2_dir, _rules(ALLOW_ALL, Rule("c", 1, 3, "rw", False)))
        ours2 = bpf_devices.load_and_attach(cgroup2_dir, _rules(ALLOW_ALL))
        assert sorted(_attached(cgroup2_dir)) == sorted([foreign_id, ours2])
        assert _ours(cgroup2_dir) == [ours2] and ours1 != ours2
        prober = prober_factory(NULL_ZERO)
        prober.move_to(cgroup2_dir)
        # Every attached program must allow: the foreign one still denies /dev/zero.
        assert prober.run() == ["ok", "EPERM"]
        bpf.detach(dir_fd, foreign)
        assert _attached(cgroup2_dir) == [ours2]
    finally:
        os.close(dir_fd)
        os.close(foreign)


def test_a_refused_program_reports_the_verifier_log() -> None:
    # Exit without setting R0: the verifier refuses to read an uninitialised register.
    with pytest.raises(bpf.VerifierError) as info:
        bpf.load_cgroup_device(_BPF_EXIT, bpf_devices.LICENSE, "bad")
    assert info.value.errno == errno.EACCES
    assert "R0 !read_ok" in info.value.log
    assert "verifier: " in str(info.value) and "\n" not in str(info.value)
    # A correct one-instruction-pair program loads (allow everything).
    fd = bpf.load_cgroup_device(bpf_devices.insn(_MOV_R0, 0, 0, 0, 1) + _BPF_EXIT, "GPL")
    os.close(fd)


def test_bad_arguments_are_refused_before_the_kernel() -> None:
    with pytest.raises(ValueError, match="8-byte"):
        bpf.load_cgroup_device(b"\0" * 12, "GPL")
    with pytest.raises(ValueError, match="program name"):
        bpf.load_cgroup_device(_BPF_EXIT, "GPL", "has space")
    with pytest.raises(FileNotFoundError):
        bpf.prog_fd_by_id(0xFFFFFFF0)


def test_a_non_cgroup_dir_is_an_error_naming_field_and_dir(tmp_path) -> None:
    with pytest.raises(ConfigError) as info:
        bpf_devices.load_and_attach(str(tmp_path), _rules(ALLOW_ALL), "devices[2]")
    message = str(info.value)
    assert "linux.resources.devices[2]" in message and str(tmp_path) in message
    assert "cannot list the device programs" in message


# --- the manager's v2 device path on a real cgroup2 directory ------------------------------

def _v2_manager(parent: str, resources: dict) -> CgroupManager:
    """A manager that sees only the cgroup2 hierarchy, as on a pure v2 host. No controllers
    are offered, so create() does not touch the root's subtree_control (shared by all)."""
    mount = _unified_mount()
    layout = Layout((), Hierarchy(mount, "/", ()))
    config = {"linux": {"cgroupsPath": f"/{parent}/ctr", "resources": resources}}
    return manager_for(config, "ocrtest-bpf", layout=layout, unified_controllers=frozenset())


def test_v2_manager_create_update_destroy_device_program(prober_factory) -> None:
    parent = f"ocrtest-bpfmgr-{secrets.token_hex(4)}"
    mount = _unified_mount()
    m = _v2_manager(parent, {"devices": [{"allow": False, "access": "rwm"},
                                         {"allow": False, "type": "c", "major": 1, "minor": 5,
                                          "access": "w"}]})
    assert m.mode == "v2"
    probes = [("/dev/null", os.O_RDWR), ("/dev/zero", os.O_WRONLY), ("/dev/kmsg", os.O_RDONLY)]
    prober = None
    try:
        m.create()
        leaf = m.paths()["unified"]
        assert leaf == f"{mount}/{parent}/ctr" and os.path.isdir(leaf)
        ids = _ours(leaf)
        assert len(ids) == 1 and _attached(leaf) == ids
        prober = prober_factory(probes)
        move_into_cgroup(m, prober.pid)
        # runc's defaults re-allow null and zero after the config's rules; kmsg (1:11) has
        # no rule left after the deny-all.
        assert prober.run() == ["ok", "ok", "EPERM"]

        # `update` runs in another process: from the saved state.
        again = CgroupManager.from_state(m.to_state())
        again.update({"devices": [{"allow": False, "access": "rwm"},
                                  {"allow": True, "type": "c", "major": 1, "minor": 11, "access": "r"}]})
        new_ids = _ours(leaf)
        assert len(new_ids) == 1 and new_ids != ids and _attached(leaf) == new_ids
        assert prober.run() == ["ok", "ok", "ok"]

        # An update without devices leaves the program alone.
        again.update({"pids": {"limit": 0}})
        assert _ours(leaf) == new_ids
    finally:
        if prober is not None:
            prober.stop()
        m.destroy(force=True)
    assert not os.path.exists(f"{mount}/{parent}")


def test_v2_manager_refuses_a_bad_rule_before_attaching() -> None:
    parent = f"ocrtest-bpfmgr-{secrets.token_hex(4)}"
    m = _v2_manager(parent, {"devices": [{"allow": True, "type": "c", "major": 1, "access": "rw"},
                                         {"allow": False, "type": "c", "major": 1, "minor": 3,
                                          "access": "r"}]})
    with pytest.raises(ConfigError, match=r"linux\.resources\.devices\[1\].*punch a hole"):
        m.create()
    assert not os.path.exists(f"{_unified_mount()}/{parent}")


def test_hybrid_host_keeps_v1_devices_and_attaches_no_program() -> None:
    """As runc on a hybrid host: the devices rules go to the v1 devices controller, and the
    container's cgroup2 directory gets no device program."""
    parent = f"ocrtest-bpfhy-{secrets.token_hex(4)}"
    m = manager_for({"linux": {"cgroupsPath": f"/{parent}/ctr", "resources": {
        "devices": [{"allow": False, "access": "rwm"}]}}}, "ocrtest-bpf")
    assert m.mode == "hybrid"
    m.create()
    try:
        paths = m.paths()
        assert paths["devices"].startswith("/sys/fs/cgroup/devices/")
        with open(f"{paths['devices']}/devices.list") as f:
            assert "c 1:3 rwm" in f.read().splitlines()
        assert _attached(paths["unified"]) == []
    finally:
        m.destroy()
    assert not os.path.exists(f"{_unified_mount()}/{parent}")


def test_hybrid_without_v1_devices_uses_a_program_on_cgroup2(prober_factory) -> None:
    """A hybrid host whose devices controller is not mounted as v1: the rules become a
    program on the cgroup2 directory (the layout here leaves the v1 devices mount out)."""
    parent = f"ocrtest-bpfhy-{secrets.token_hex(4)}"
    real = read_layout()
    layout = Layout(tuple(h for h in real.v1 if h.controllers == ("pids",)), real.unified)
    m = manager_for({"linux": {"cgroupsPath": f"/{parent}/ctr"}}, "ocrtest-bpf", layout=layout,
                    unified_controllers=frozenset())
    assert m.mode == "hybrid" and "devices" not in m.paths()
    prober = None
    m.create()
    try:
        leaf = m.paths()["unified"]
        assert len(_ours(leaf)) == 1
        prober = prober_factory([("/dev/null", os.O_RDWR), ("/dev/kmsg", os.O_RDONLY)])
        move_into_cgroup(m, prober.pid)
        assert prober.run() == ["ok", "EPERM"]   # runc's defaults only
    finally:
        if prober is not None:
            prober.stop()
        m.destroy(force=True)
    assert not os.path.exists(f"{_unified_mount()}/{parent}")


def test_query_lists_more_programs_than_its_first_guess(cgroup2_dir: str) -> None:
    """attached_ids starts with room for 16 ids; the kernel's -ENOSPC answer (with the real
    count) makes it ask again. Detaching a program that is not attached is ENOENT."""
    allow_all = bpf_devices.insn(_MOV_R0, 0, 0, 0, 1) + _BPF_EXIT
    dir_fd = os.open(cgroup2_dir, os.O_RDONLY | os.O_DIRECTORY)
    fds: list[int] = []
    try:
        for _ in range(20):
            fds.append(bpf.load_cgroup_device(allow_all, "GPL", "many"))
            bpf.attach(dir_fd, fds[-1])
        ids = bpf.attached_ids(dir_fd)
        assert sorted(ids) == sorted(bpf.prog_info(fd)[0] for fd in fds)
        assert _ours(cgroup2_dir) == []          # none carries our name
        bpf.detach(dir_fd, fds[0])
        with pytest.raises(FileNotFoundError):
            bpf.detach(dir_fd, fds[0])
        assert len(bpf.attached_ids(dir_fd)) == 19
    finally:
        for fd in fds:
            os.close(fd)
        os.close(dir_fd)


def test_destroy_takes_our_program_off_a_cgroup_it_did_not_create(cgroup2_dir: str) -> None:
    """cgroupsPath naming an existing cgroup2 dir: delete keeps the dir (not ours) but must
    not leave our device filter on it."""
    mount = _unified_mount()
    inner = cgroup2_dir[len(mount):]
    m = manager_for({"linux": {"cgroupsPath": inner}}, "ocrtest-bpf",
                    layout=Layout((), Hierarchy(mount, "/", ())), unified_controllers=frozenset())
    m.create()
    assert m.created == [] and len(_ours(cgroup2_dir)) == 1
    m.destroy()
    assert os.path.isdir(cgroup2_dir) and _attached(cgroup2_dir) == []
