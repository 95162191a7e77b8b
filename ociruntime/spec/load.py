"""Read, parse and validate the three JSON documents the runtime accepts.

- ``load_config(bundle)``: ``<bundle>/config.json`` for create/run.
- ``load_process(path)``: exec's ``--process`` file.
- ``load_resources(text, source)``: update's ``--resources`` input.

Each step fails with one ConfigError line naming the file and the JSON path:
read -> parse -> schema (compiled fast path, jsonschema only to explain) -> checks.
"""

from __future__ import annotations

import os

from ociruntime.errors import ConfigError
from ociruntime.spec.parse import parse_json
from ociruntime.spec.validate import validate_document

CONFIG_FILE = "config.json"


def _read_bundle_config(bundle: str) -> bytes:
    quoted = '"' + bundle + '"'
    try:
        if not os.path.isdir(bundle):
            if os.path.exists(bundle):
                raise ConfigError("", f"{quoted} is not a directory", file="bundle")
            raise ConfigError("", f"{quoted} does not exist", file="bundle")
        with open(os.path.join(bundle, CONFIG_FILE), "rb") as f:
            return f.read()
    except FileNotFoundError:
        raise ConfigError("", f"no such file in bundle {quoted}", file=CONFIG_FILE) from None
    except IsADirectoryError:
        raise ConfigError("", f"is a directory in bundle {quoted}", file=CONFIG_FILE) from None
    except OSError as exc:
        raise ConfigError("", f"cannot read: {exc.strerror}", file=CONFIG_FILE) from None


def parse_config(data: str | bytes, *, require_process: bool = True) -> dict:
    """Validate config.json text already in memory (used by load_config and tests)."""
    from ociruntime.spec.checks import run_config_checks

    spec = parse_json(data, CONFIG_FILE)
    validate_document("config", spec, CONFIG_FILE)
    run_config_checks(spec, require_process=require_process, file=CONFIG_FILE)
    return spec  # type: ignore[return-value]  # the schema says it is an object


def load_config(bundle: str, *, require_process: bool = True) -> dict:
    """The validated config.json of ``bundle``.

    ``require_process``: create needs ``process`` (runc: "process property must not be
    empty"); a verb that only reads the saved config may pass False.
    """
    return parse_config(_read_bundle_config(bundle), require_process=require_process)


def parse_process(data: str | bytes, file: str) -> dict:
    from ociruntime.spec.checks import run_process_checks

    process = parse_json(data, file)
    validate_document("process", process, file)
    run_process_checks(process, (), file)  # type: ignore[arg-type]
    return process  # type: ignore[return-value]


def load_process(path: str) -> dict:
    """exec's process.json; messages name the file as given (``/tmp/runc-process1: cwd: ...``)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise ConfigError("", "no such file", file=path) from None
    except IsADirectoryError:
        raise ConfigError("", "is a directory", file=path) from None
    except OSError as exc:
        raise ConfigError("", f"cannot read: {exc.strerror}", file=path) from None
    return parse_process(data, path)


def load_resources(text: str | bytes, source: str) -> dict:
    """update's LinuxResources JSON (from a file or stdin: ``source`` names it in messages)."""
    from ociruntime.spec.checks import run_resources_checks

    resources = parse_json(text, source)
    validate_document("resources", resources, source)
    run_resources_checks(resources, (), source)  # type: ignore[arg-type]
    return resources  # type: ignore[return-value]
