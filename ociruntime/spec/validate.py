"""Schema validation with a fast path.

The compiled validator (generated at build time by compile_schema) decides accept or
reject without importing jsonschema. Only a rejection, or a missing/stale compiled
module, pays for jsonschema, which is the reference and writes the message.
"""

from __future__ import annotations

TYPE_CHECKING = False  # keep typing/collections.abc off the hot path
if TYPE_CHECKING:
    from collections.abc import Callable

_fast_validators: "dict[str, Callable[[object], object]] | None" = None


def _load_fast() -> dict[str, Callable[[object], object]]:
    """The compiled validators, or {} when the generated module is absent or stale."""
    global _fast_validators
    if _fast_validators is None:
        try:
            from ociruntime.spec import _compiled_validator as compiled
        except ImportError:
            _fast_validators = {}
        else:
            current = _is_current(compiled)
            _fast_validators = (
                {
                    "config": compiled.validate_config,
                    "process": compiled.validate_process,
                    "resources": compiled.validate_resources,
                }
                if current
                else {}
            )
    return _fast_validators


def _is_current(compiled: object) -> bool:
    """Was the compiled module generated from today's schema file? The stamp (size,
    mtime) answers with one stat; only when it differs is the file read and checksummed."""
    from ociruntime.spec.schemas import schema_crc, schema_stamp

    try:
        if getattr(compiled, "SCHEMA_STAMP", None) == schema_stamp():
            return True
        return getattr(compiled, "SCHEMA_CRC", None) == schema_crc()
    except OSError:
        return False


def fast_path_available() -> bool:
    return bool(_load_fast())


def validate_document(kind: str, document: object, file: str) -> None:
    """Raise ConfigError (one line, with the JSON path) unless ``document`` matches."""
    fast = _load_fast().get(kind)
    if fast is not None:
        try:
            fast(document)
            return
        except Exception:  # noqa: BLE001 - Invalid, or anything odd: let the reference decide
            pass
    from ociruntime.spec.explain import explain

    explain(kind, document, file)
