"""Name each runtime stage, so a hang shows where it is: `ps -o pid,comm` lists
`oci:[1:CHILD]`, `oci:[2:INIT]` (the kernel keeps 15 bytes of comm, as runc's
`runc:[2:INIT]`). argv is left alone: rewriting it needs setproctitle, whose package
imports logging (~6-8 ms on every create). The ociruntime-dmz trampoline that waits for
`start` in the init's place names itself `oci:[2:INIT]` too (csrc/dmz/dmz.c)."""

from __future__ import annotations


def set_stage_name(stage: str, container_id: str) -> None:
    del container_id  # comm has no room for it; /proc/<pid>/cmdline still carries the id
    try:
        with open("/proc/self/comm", "w") as fh:
            fh.write(f"oci:[{stage}]"[:15])
    except OSError:
        pass
