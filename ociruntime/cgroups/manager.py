"""CgroupManager: one container's cgroup in every mounted hierarchy.

It knows, per hierarchy, the directory of the container and the mount point; which
controllers the cgroup2 hierarchy serves (all of them on v2; on a hybrid host those not
mounted as v1 hierarchies, e.g. hugetlb); which directories it created itself; and the
resources it applied. All of that round-trips through to_state()/from_state(), so verbs
after `create` read no mount table at all.
"""

from __future__ import annotations

import errno
import posix
import time

from ociruntime.cgroups import STATE_VERSION, _check_state_version, cgfile, dirs, freezer, marks
from ociruntime.cgroups.cgfile import CONFIG_FIELDS, Fields
from ociruntime.errors import KernelError, OciError, UnsupportedError
from ociruntime import posixlite

# Only the cheap modules above load with this one: `state` and `delete` import it. Resource
# setting, validation and statistics are imported by the methods that need them.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ociruntime.cgroups.devices import Rule
    from ociruntime.cgroups.groups import Group
    from ociruntime.cgroups.join import CgroupJoin

UPDATE_FIELDS = Fields(prefix="", file="resources")
_PSEUDO_V2 = ("devices", "freezer")
_DESTROY_RETRY_SECONDS = 2.0


class CgroupManager:
    def __init__(self, *, container_id: str, mode: str, hierarchies: dict[str, dict],
                 unified_serves: list[str], resources: dict, device_paths: list[str] | None = None,
                 created: list[str] | None = None, enabled: list[list[str]] | None = None,
                 systemd: dict | None = None) -> None:
        self.container_id = container_id
        self.mode = mode                      # "v1", "v2" or "hybrid"
        self.hierarchies = hierarchies        # key -> {"dir", "mount", "controllers"}
        self.unified_serves = list(unified_serves)
        self.resources = resources
        self.device_paths = list(device_paths or [])
        self.created = list(created or [])    # dirs made by create(), parents first
        self.enabled = [list(e) for e in enabled or []]   # [dir, controller] we enabled
        self.systemd = systemd

    # --- state ---------------------------------------------------------------------------

    def to_state(self) -> dict:
        return {
            "version": STATE_VERSION, "id": self.container_id,
            "driver": "systemd" if self.systemd else "cgroupfs", "mode": self.mode,
            "hierarchies": self.hierarchies, "unified_serves": self.unified_serves,
            "resources": self.resources, "device_paths": self.device_paths,
            "created": self.created, "enabled": self.enabled, "systemd": self.systemd,
        }

    @classmethod
    def from_state(cls, data: dict) -> CgroupManager:
        _check_state_version(data)
        return cls(container_id=data["id"], mode=data["mode"], hierarchies=data["hierarchies"],
                   unified_serves=data["unified_serves"], resources=data.get("resources") or {},
                   device_paths=data.get("device_paths"), created=data.get("created"),
                   enabled=data.get("enabled"), systemd=data.get("systemd"))

    # --- where things are ----------------------------------------------------------------

    def paths(self) -> dict[str, str]:
        """controller -> absolute directory; 'unified' is the cgroup2 directory."""
        out: dict[str, str] = {}
        for key, h in self.hierarchies.items():
            if key == "unified":
                continue
            for controller in h["controllers"]:
                out[controller] = h["dir"]
        unified = self._unified_dir()
        if unified:
            for controller in self.unified_serves:
                out.setdefault(controller, unified)
            out["unified"] = unified
        return out

    def _v1_dir(self, controller: str) -> str | None:
        for key, h in self.hierarchies.items():
            if key != "unified" and controller in h["controllers"]:
                return h["dir"]
        return None

    def _unified_dir(self) -> str | None:
        h = self.hierarchies.get("unified")
        return h["dir"] if h else None

    def _route(self, group: Group) -> str | None:
        if self._v1_dir(group.v1):
            return "v1"
        if group.v2 and group.v2 in self.unified_serves and self._unified_dir():
            return "v2"
        return None

    def _group_dir(self, group: Group, where: str) -> str:
        return self._v1_dir(group.v1) if where == "v1" else self._unified_dir()  # type: ignore[return-value]

    def _missing(self, group: Group) -> str:
        if group.v2 is None:
            return (f"no {group.v1} cgroup hierarchy is mounted on this host "
                    f"(cgroup v2 has no {group.v1} controller)")
        return (f"no {group.v1} controller on this host: not mounted as a cgroup v1 hierarchy "
                f"and not available in the cgroup v2 hierarchy")

    def _unique_dirs(self) -> list[tuple[str, str]]:
        """(dir, mount) once per hierarchy, v1 hierarchies first, unified last."""
        seen, out = set(), []
        for h in self.hierarchies.values():
            if h["dir"] not in seen:
                seen.add(h["dir"])
                out.append((h["dir"], h["mount"]))
        return out

    # --- create ----------------------------------------------------------------------------

    def create(self) -> None:
        """Make the directories and apply linux.resources; on error undo everything."""
        self._refuse_systemd()
        if not self.hierarchies:
            raise UnsupportedError("no cgroup hierarchy is mounted on this host")
        rules = self._device_rules(self.resources.get("devices") or [], CONFIG_FIELDS)
        self._check(self.resources, CONFIG_FIELDS)
        created: list[str] = []
        self.enabled = []
        try:
            for d, mount in self._unique_dirs():
                created += dirs.mkdirs(d, mount)
            self.created = created
            cpuset_dir = self._v1_dir("cpuset")
            if cpuset_dir:
                dirs.populate_cpuset(cpuset_dir, self._mount_of("cpuset"))
            self._share_realtime_with_parents(created)
            self._enable_unified_controllers(self.resources)
            self._apply_devices(rules, CONFIG_FIELDS, updating=False)
            self._apply(self.resources, CONFIG_FIELDS, updating=False)
        except BaseException:
            for d in reversed(created):
                dirs.rmdir_quiet(d)
            self._disable_unused_controllers()
            self.created, self.enabled = [], []
            raise

    def _share_realtime_with_parents(self, created: list[str]) -> None:
        """A v1 cpu group gets RT runtime only out of its parent's: give the parents we
        made (and only those) the requested budget first."""
        cpu = self.resources.get("cpu") or {}
        leaf = self._v1_dir("cpu")
        if not leaf or not cpu.get("realtimeRuntime"):
            return
        from ociruntime.cgroups.setters_v1 import set_realtime

        for parent in dirs.ancestors(leaf, self._mount_of("cpu"))[1:]:
            if parent in created:
                set_realtime(parent, cpu, CONFIG_FIELDS)

    def _mount_of(self, controller: str) -> str:
        for key, h in self.hierarchies.items():
            if key != "unified" and controller in h["controllers"]:
                return h["mount"]
        raise KeyError(controller)

    def _refuse_systemd(self) -> None:
        if not self.systemd:
            return
        if not posixlite.isdir("/run/systemd/system"):
            raise UnsupportedError(
                "systemd cgroup driver: systemd is not running on this host (PID 1 is not "
                "systemd); run without --systemd-cgroup to use the cgroupfs driver")
        raise UnsupportedError(
            "systemd cgroup driver: creating units over D-Bus is not implemented; "
            "run without --systemd-cgroup")

    def _check(self, resources: dict, f: Fields) -> None:
        from ociruntime.cgroups import validate

        sizes: list[str] = []
        if resources.get("hugepageLimits"):
            from ociruntime.cgroups.convert import hugepage_sizes

            sizes = hugepage_sizes()
        unified = frozenset(self.unified_serves) if self._unified_dir() else None
        validate.check(resources, f, self._route, hugepage_sizes=sizes,
                       unified_controllers=unified, missing=self._missing)

    def _device_rules(self, entries: list, f: Fields) -> list[Rule]:
        from ociruntime.cgroups import devices

        rules = devices.with_runc_defaults(devices.parse_rules(entries, f), set(self.device_paths))
        devices.validate(rules, f)
        return rules

    def _apply_devices(self, rules: list[Rule], f: Fields, *, updating: bool) -> None:
        from ociruntime.cgroups import devices

        d = self._v1_dir("devices")
        if d:
            apply = devices.apply_v1_update if updating else devices.apply_v1_initial
            apply(d, rules, f)
            return
        unified = self._unified_dir()
        if not unified:
            raise UnsupportedError("no devices cgroup: the devices hierarchy is not mounted")
        # cgroup v2: one eBPF program holds all rules (on hybrid runc too keeps v1 devices).
        from ociruntime.cgroups import bpf_devices

        bpf_devices.load_and_attach(unified, devices.Emulator.from_rules(rules), "devices", f)

    def _apply(self, resources: dict, f: Fields, *, updating: bool) -> None:
        from ociruntime.cgroups.groups import GROUPS

        for group in GROUPS:
            value = group.pick(resources)
            where = self._route(group)
            if value is None or where is None:
                continue  # validate.check rejected non-default values without a controller
            setter = group.set_v1 if where == "v1" else group.set_v2
            if setter is not None:
                setter(self._group_dir(group, where), value, f, updating=updating)
        if resources.get("unified"):
            from ociruntime.cgroups import setters_v2

            setters_v2.unified(self._unified_dir(), resources["unified"], f, updating=updating)  # type: ignore[arg-type]

    # --- cgroup v2 subtree_control ---------------------------------------------------------

    def _needed_unified_controllers(self, resources: dict) -> list[str]:
        """All served controllers on v2 (like runc); on hybrid only those the config uses."""
        if self.mode == "v2":
            return [c for c in self.unified_serves if c not in _PSEUDO_V2]
        from ociruntime.cgroups.groups import GROUPS, is_default

        needed = []
        for group in GROUPS:
            if self._route(group) == "v2" and not is_default(group.pick(resources)):
                needed.append(group.v2)
        for key in resources.get("unified") or {}:
            controller = key.partition(".")[0]
            if controller in self.unified_serves:
                needed.append(controller)
        return list(dict.fromkeys(needed))

    def _enable_unified_controllers(self, resources: dict) -> None:
        h = self.hierarchies.get("unified")
        needed = self._needed_unified_controllers(resources)
        if not h or not needed:
            return
        for parent in dirs.ancestors(h["dir"], h["mount"]):
            try:
                current = set(cgfile.read(parent, "cgroup.subtree_control").split())
            except OSError:
                continue
            for controller in needed:
                if controller in current:
                    continue
                # Failures surface later as a missing control file naming the field.
                if cgfile.try_write(parent, "cgroup.subtree_control", "+" + controller) == 0:
                    self.enabled.append([parent, controller])
                    marks.add_enabled(parent, controller)

    def _disable_unused_controllers(self) -> None:
        """Turn off what we (or another ociruntime container) enabled, once unused."""
        h = self.hierarchies.get("unified")
        if not h:
            return
        recorded: dict[str, set[str]] = {}
        for parent, controller in self.enabled:
            recorded.setdefault(parent, set()).add(controller)
        for parent in reversed(dirs.ancestors(h["dir"], h["mount"])):
            controllers = recorded.get(parent, set()) | marks.enabled(parent)
            if not controllers:
                continue
            if dirs.has_child_cgroups(parent):
                break
            for controller in sorted(controllers):
                cgfile.try_write(parent, "cgroup.subtree_control", "-" + controller)
            marks.clear_enabled(parent)
        self.enabled = []

    # --- processes -----------------------------------------------------------------------

    def join(self) -> CgroupJoin:
        """How a new process enters the container's cgroup in every hierarchy."""
        from ociruntime.cgroups.join import CgroupJoin

        unified = self._unified_dir()
        # Before Linux 6.4 (commit 42a11bf5c543) a child forked into a v2 cpuset kept its
        # parent's CPUs and memory nodes: there it must join the usual way.
        clone_into = "cpuset" not in self.unified_serves or kernel_release() >= (6, 4)
        return CgroupJoin([d for d, _ in self._unique_dirs() if d != unified], unified,
                          clone_into=clone_into)

    def pids(self) -> list[int]:
        """Every pid in the container's cgroup and its sub-cgroups (a walk on posix.scandir:
        os.walk would import os on `delete --force`, see posixlite.py)."""
        found: set[int] = set()
        pending = [self._procs_dir()]
        while pending:
            dirpath = pending.pop()
            if not dirpath:
                continue
            try:
                with posix.scandir(dirpath) as entries:
                    pending.extend(e.path for e in entries if e.is_dir(follow_symlinks=False))
            except OSError:
                continue  # removed meanwhile, as os.walk skips it
            try:
                found.update(int(x) for x in cgfile.read(dirpath, "cgroup.procs").split())
            except OSError:
                continue
        return sorted(found)

    def _procs_dir(self) -> str:
        if self.mode == "v2":
            return self._unified_dir()  # type: ignore[return-value]
        for controller in ("devices", "pids", "freezer", "memory"):
            d = self._v1_dir(controller)
            if d:
                return d
        return self._unique_dirs()[0][0]

    # --- freezer -------------------------------------------------------------------------

    def freeze(self) -> None:
        d = self._v1_dir("freezer")
        if d:
            freezer.freeze_v1(d)
        else:
            freezer.freeze_v2(self._require_unified("freezer"))

    def thaw(self) -> None:
        d = self._v1_dir("freezer")
        if d:
            freezer.thaw_v1(d)
        else:
            freezer.thaw_v2(self._require_unified("freezer"))

    def is_frozen(self) -> bool:
        return freezer.is_frozen(self.hierarchies)

    def _require_unified(self, what: str) -> str:
        d = self._unified_dir()
        if not d:
            raise UnsupportedError(f"no {what} cgroup: the {what} hierarchy is not mounted")
        return d

    # --- stats / OOM ---------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """runc's `events --stats` data object."""
        from ociruntime.cgroups import stats

        unified = self._unified_dir()
        v2 = set(self.unified_serves) if unified else set()
        out: dict[str, Any] = {}
        cpu_dir, cpuacct_dir = self._v1_dir("cpu"), self._v1_dir("cpuacct")
        if cpu_dir or cpuacct_dir:
            out["cpu"] = stats.cpu_v1(cpu_dir, cpuacct_dir)
        elif unified and self.mode == "v2":
            out["cpu"] = stats.cpu_v2(unified)
        else:
            out["cpu"] = stats.cpu_v1(None, None)
        d = self._v1_dir("cpuset")
        out["cpuset"] = stats.cpuset_v1(d) if d else (
            stats.cpuset_v2(unified) if "cpuset" in v2 else stats.empty_cpuset())
        d = self._v1_dir("memory")
        out["memory"] = stats.memory_v1(d) if d else (
            stats.memory_v2(unified) if "memory" in v2 else stats.empty_memory())
        d = self._v1_dir("pids")
        out["pids"] = stats.pids(d) if d else (stats.pids(unified) if "pids" in v2 else {})
        d = self._v1_dir("blkio")
        out["blkio"] = stats.blkio_v1(d) if d else (stats.io_v2(unified) if "io" in v2 else {})
        d = self._v1_dir("hugetlb")
        hugetlb: dict = {}
        if d or "hugetlb" in v2:
            from ociruntime.cgroups.convert import hugepage_sizes

            sizes = hugepage_sizes()
            hugetlb = stats.hugetlb_v1(d, sizes) if d else stats.hugetlb_v2(unified, sizes)  # type: ignore[arg-type]
        out["hugetlb"] = hugetlb
        out["intel_rdt"] = {}
        out["network_interfaces"] = None
        return out

    def oom_kill_count(self) -> int:
        d = self._v1_dir("memory")
        if d:
            return cgfile.read_keyed(d, "memory.oom_control").get("oom_kill", 0)
        unified = self._unified_dir()
        if unified and "memory" in self.unified_serves:
            return cgfile.read_keyed(unified, "memory.events").get("oom_kill", 0)
        return 0

    # --- update --------------------------------------------------------------------------

    def update(self, resources: dict, *, fields: Fields = UPDATE_FIELDS) -> None:
        """Apply a LinuxResources object to the running container.

        Only the fields named are written, plus the ones they are computed with: memory
        limit and swap go together (v1 write order, v2 swap = swap - limit) and so do cpu
        quota and period (cpu.max holds both). What was applied is merged for next time;
        the caller saves to_state() afterwards.
        """
        self._refuse_systemd()
        merged = merge_resources(self.resources, resources)
        touched = update_plan(merged, resources)
        rules = None
        if "devices" in resources:
            rules = self._device_rules(resources.get("devices") or [], fields)
        self._check(touched, fields)
        self._enable_unified_controllers(touched)
        if rules is not None:
            self._apply_devices(rules, fields, updating=True)
        self._apply(touched, fields, updating=True)
        self.resources = merged

    # --- destroy -------------------------------------------------------------------------

    def destroy(self, *, force: bool = False) -> None:
        """Remove the directories create() made, deepest first; never any other.

        With force, SIGKILL whatever still runs in the cgroup first. Idempotent.
        """
        if force:
            self._kill_all()
        created = set(self.created)
        failures = []
        # Exiting tasks can keep a cgroup busy for a moment: retry, on one shared budget.
        deadline = time.monotonic() + _DESTROY_RETRY_SECONDS
        for d, mount in self._unique_dirs():
            if d not in created:
                continue
            err = dirs.remove_tree(d, deadline)
            if err:
                failures.append(f"{d}: {posix.strerror(err)}")
                continue
            dirs.remove_unused_parents(d, mount, created)
        self._detach_devices_from_kept_dir(created)
        self._disable_unused_controllers()
        if failures:
            try:
                inside = f" (processes still inside: {' '.join(map(str, self.pids()))})"
            except OSError:
                inside = ""
            raise KernelError("cannot remove cgroup " + "; ".join(failures) + inside, errno.EBUSY)

    def _detach_devices_from_kept_dir(self, created: set[str]) -> None:
        """rmdir frees the device program of a cgroup2 dir we made; one we did not make
        stays, so take our program off it (else it would keep filtering its next users)."""
        unified = self._unified_dir()
        if not unified or unified in created or self._v1_dir("devices") or not posixlite.isdir(unified):
            return
        from ociruntime.cgroups import bpf_devices

        try:
            bpf_devices.detach_ours(unified)
        except (OSError, OciError):
            pass   # best effort: a dir that is not a cgroup (tests) or a kernel without bpf

    def _kill_all(self) -> None:
        import _signal as signal  # the C module: signal's enums cost ~4 ms per process

        unified = self._unified_dir()
        if self.mode == "v2" and unified and cgfile.try_write(unified, "cgroup.kill", "1") == 0:
            return
        try:
            if not self.pids():
                return  # nothing inside (a stopped container): no freeze and thaw to pay
        except OSError:
            pass
        freezer_dir = self._v1_dir("freezer")
        frozen = False
        if freezer_dir and posixlite.isdir(freezer_dir):
            try:
                freezer.freeze_v1(freezer_dir)   # no forks while we kill
                frozen = True
            except (KernelError, OSError):
                pass
        try:
            for pid in self.pids():
                try:
                    posix.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        except OSError:
            pass
        if frozen:
            cgfile.try_write(freezer_dir, "freezer.state", "THAWED")  # type: ignore[arg-type]


_WRITTEN_TOGETHER = {"memory": ("limit", "swap", "checkBeforeUpdate"), "cpu": ("quota", "period")}


def kernel_release() -> tuple[int, int]:
    """(major, minor) of the running kernel; (0, 0) when uname does not say."""
    try:
        major, minor = posix.uname().release.split(".")[:2]
        digits = len(minor) - len(minor.lstrip("0123456789"))  # "4rc1" -> 4
        return int(major), int(minor[:digits])
    except ValueError:
        return (0, 0)


def update_plan(merged: dict, update: dict) -> dict:
    """The part of the merged resources an update writes (see CgroupManager.update)."""
    out = {}
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            together = [k for k in _WRITTEN_TOGETHER.get(key, ()) if k in merged[key]]
            if any(k in value for k in together):
                value = {**{k: merged[key][k] for k in together}, **value}
        out[key] = value
    return out


def merge_resources(old: dict, new: dict) -> dict:
    """Objects merge key by key (one level deep for the groups); lists and values replace."""
    out = dict(old)
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out
