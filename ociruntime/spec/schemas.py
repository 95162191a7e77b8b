"""Where our JSON schemas live and how to turn each into a self-contained document.

``schemas/config.schema.json`` holds every definition. ``process.schema.json`` and
``resources.schema.json`` are thin files that point into it; for validation we build
the equivalent self-contained schema (root ``$ref`` plus the shared definitions), so
neither validator ever has to fetch or resolve another file.
"""

from __future__ import annotations

import os

SCHEMA_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "schemas")
CONFIG_SCHEMA_PATH = os.path.join(SCHEMA_DIR, "config.schema.json")

# Document kind -> the definition inside config.schema.json that describes it.
KINDS: dict[str, str | None] = {"config": None, "process": "Process", "resources": "Resources"}


def schema_stamp() -> tuple[int, int]:
    """(size, mtime in ns) of config.schema.json: one stat(2), where schema_crc reads the
    file and imports zlib (~0.4 ms on every `create`). The compiled validator records both;
    a matching stamp is trusted, any other falls back to comparing checksums."""
    info = os.stat(CONFIG_SCHEMA_PATH)
    return info.st_size, info.st_mtime_ns


def schema_crc() -> int:
    """Checksum of config.schema.json: tells whether the compiled validator is current."""
    import zlib

    with open(CONFIG_SCHEMA_PATH, "rb") as f:
        return zlib.crc32(f.read())


def load_schema(kind: str) -> dict:
    """The self-contained draft-07 schema for ``kind`` (config, process or resources)."""
    import json

    if kind not in KINDS:
        raise ValueError(f"unknown document kind {kind!r}")
    with open(CONFIG_SCHEMA_PATH, encoding="utf-8") as f:
        config = json.load(f)
    definition = KINDS[kind]
    if definition is None:
        return config
    return {
        "$schema": config["$schema"],
        "$ref": f"#/definitions/{definition}",
        "definitions": config["definitions"],
    }
