"""Turn a schema rejection into one precise line, using jsonschema (the reference).

Only imported after the fast validator said no (or when it is missing): importing
jsonschema costs ~80 ms, which the accept path must never pay.
"""

from __future__ import annotations

from ociruntime.errors import ConfigError
from ociruntime.spec.paths import format_path, quote

_TYPE_NAMES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean",
    "object": "an object",
    "array": "an array",
    "null": "null",
}

# Patterns our schema uses, said in words.
_PATTERN_NAMES = {
    "^RLIMIT_[A-Z]+$": "an RLIMIT_* name",
    "^[cbup]$": "one of c, b, u, p",
    "^[1-9][0-9]*[KMG]B$": "a page size like 2MB or 1GB",
    "^[0-9, -]*$": "a CPU list like 0-3,7",
    "^MB:[^\\n]*$": "a single line starting with MB:",
}


def _validator_for(kind: str):
    import jsonschema

    from ociruntime.spec.schemas import load_schema

    return jsonschema.Draft7Validator(load_schema(kind))


def _pick(errors: list):
    """The error to report: the first in document order, preferring concrete ones."""
    from jsonschema.exceptions import best_match

    return best_match(errors)


def _reason(error) -> tuple[list[str | int], str]:
    """(path parts, reason) for one jsonschema ValidationError."""
    path: list[str | int] = list(error.absolute_path)
    kind = error.validator
    value = error.instance
    expected = error.validator_value
    if kind == "required":
        missing = next((name for name in expected if isinstance(value, dict) and name not in value), "?")
        return path + [missing], "is required"
    if kind == "type":
        names = [expected] if isinstance(expected, str) else list(expected)
        wanted = " or ".join(_TYPE_NAMES.get(name, name) for name in names)
        return path, f"{quote(value)} is not {wanted}"
    if kind == "enum":
        return path, f"{quote(value)} is not one of {', '.join(str(v) for v in expected)}"
    if kind == "const":
        return path, f"{quote(value)} is not {quote(expected)}"
    if kind == "minimum":
        return path, f"{quote(value)} is less than the minimum {expected}"
    if kind == "maximum":
        return path, f"{quote(value)} is greater than the maximum {expected}"
    if kind == "pattern":
        wanted = _PATTERN_NAMES.get(expected, f"matching {expected}")
        return path, f"{quote(value)} is not {wanted}"
    if kind == "minItems":
        plural = "entry" if expected == 1 else "entries"
        return path, f"must have at least {expected} {plural}"
    return path, error.message.splitlines()[0]


def explain(kind: str, document: object, file: str) -> None:
    """Raise a ConfigError for the most relevant schema violation; return if there is none."""
    try:
        errors = list(_validator_for(kind).iter_errors(document))
    except RecursionError:
        raise ConfigError("", "document is nested too deeply", file=file) from None
    if not errors:
        return
    path, reason = _reason(_pick(errors))
    raise ConfigError(format_path(path), reason, file=file)
