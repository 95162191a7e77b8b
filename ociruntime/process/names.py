"""Name each runtime stage in `ps`, so a hang shows where it is (ociruntime:[2:INIT] <id>)."""

from __future__ import annotations


def set_stage_name(stage: str, container_id: str) -> None:
    title = f"ociruntime:[{stage}] {container_id}"
    try:
        import setproctitle  # rewrites argv in place; needs no privilege

        setproctitle.setproctitle(title)
    except ImportError:
        pass
    try:
        with open("/proc/self/comm", "w") as fh:
            fh.write(f"oci:{stage}"[:15])
    except OSError:
        pass
