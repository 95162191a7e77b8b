"""The compiled fast-path validator: same verdicts as jsonschema, cheap to import,
and a safe fallback when it is missing or stale."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import types
from pathlib import Path

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ociruntime.errors import ConfigError
from ociruntime.spec import compile_schema, validate
from ociruntime.spec.load import parse_config
from ociruntime.spec.schemas import load_schema, schema_crc, schema_stamp
from helpers.mutation import value_paths
from unit.test_spec_corpus import INVALID_CONFIGS, VALID_CONFIGS, runtime_tools_config

REPO = Path(__file__).resolve().parents[2]
GENERATED = REPO / "ociruntime" / "spec" / "_compiled_validator.py"
KINDS = ("config", "process", "resources")


@pytest.fixture(scope="module")
def compiled() -> types.ModuleType:
    """The generated module, built fresh from the current schema (no file written)."""
    module = types.ModuleType("compiled_for_test")
    exec(compile(compile_schema.generate(), "<generated>", "exec"), module.__dict__)  # noqa: S102
    return module


@pytest.fixture(scope="module")
def reference() -> dict[str, jsonschema.Draft7Validator]:
    return {kind: jsonschema.Draft7Validator(load_schema(kind)) for kind in KINDS}


def _fast_accepts(compiled: types.ModuleType, kind: str, document: object) -> bool:
    try:
        getattr(compiled, f"validate_{kind}")(document)
    except compiled.Invalid:
        return False
    return True


def _documents() -> list[tuple[str, object]]:
    """Every JSON document of the corpus, as (kind, document), parts included."""
    out: list[tuple[str, object]] = []
    for document in list(VALID_CONFIGS.values()) + [doc for doc, _ in INVALID_CONFIGS.values()]:
        if isinstance(document, (str, bytes)):
            try:
                document = json.loads(document)
            except ValueError:
                continue
        out.append(("config", document))
        if isinstance(document, dict):
            if isinstance(document.get("process"), dict):
                out.append(("process", document["process"]))
            resources = (document.get("linux") or {}).get("resources") if isinstance(document.get("linux"), dict) else None
            if resources is not None:
                out.append(("resources", resources))
    return out


def test_schemas_are_valid_draft7(reference: dict[str, jsonschema.Draft7Validator]) -> None:
    for kind in KINDS:
        jsonschema.Draft7Validator.check_schema(load_schema(kind))


@pytest.mark.parametrize("index", range(len(_documents())))
def test_compiled_and_jsonschema_agree_on_corpus(index: int, compiled, reference) -> None:
    kind, document = _documents()[index]
    assert _fast_accepts(compiled, kind, document) == reference[kind].is_valid(document)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8) | st.sampled_from(["/", "tmp", "pid", "RLIMIT_NOFILE", "CAP_KILL", "1.3.0", "c", "rwm", "private"]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=12,
)


def _replace(document: object, path: tuple, value: object) -> object:
    if not path:
        return value
    document = copy.deepcopy(document)
    node = document
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return document


@st.composite
def mutated_configs(draw: st.DrawFn) -> object:
    """A valid config with one subtree replaced by arbitrary JSON (or one key dropped)."""
    base = VALID_CONFIGS[draw(st.sampled_from(sorted(VALID_CONFIGS)))]
    path = draw(st.sampled_from(value_paths(base)))
    if path and draw(st.booleans()):
        document = copy.deepcopy(base)
        node = document
        for part in path[:-1]:
            node = node[part]
        del node[path[-1]]
        return document
    return _replace(base, path, draw(json_values))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=mutated_configs())
def test_compiled_and_jsonschema_agree_on_mutations(document: object, compiled, reference) -> None:
    for kind in KINDS:
        assert _fast_accepts(compiled, kind, document) == reference[kind].is_valid(document), kind
    if isinstance(document, dict) and isinstance(document.get("process"), dict):
        process = document["process"]
        assert _fast_accepts(compiled, "process", process) == reference["process"].is_valid(process)


@settings(max_examples=200, deadline=None)
@given(document=json_values)
def test_compiled_and_jsonschema_agree_on_arbitrary_json(document: object, compiled, reference) -> None:
    for kind in KINDS:
        assert _fast_accepts(compiled, kind, document) == reference[kind].is_valid(document), kind


def test_generated_module_is_current_when_present() -> None:
    """`make build` writes it; a stale copy must not survive a schema change unnoticed."""
    if GENERATED.exists():
        namespace: dict = {}
        exec(compile(GENERATED.read_text(), str(GENERATED), "exec"), namespace)  # noqa: S102
        assert namespace["SCHEMA_CRC"] == schema_crc(), "stale: run `make build`"


def test_generated_code_is_slim(compiled) -> None:
    source = compile_schema.generate()
    assert "import fastjsonschema" not in source and "from fastjsonschema" not in source
    assert "from decimal" not in source and "import decimal" not in source
    assert "definition=" not in source  # no copies of the schema inside raise statements


def _use_fast_module(monkeypatch: pytest.MonkeyPatch, module: object) -> None:
    """Make `from ociruntime.spec import _compiled_validator` see ``module`` (None: absent)."""
    import ociruntime.spec

    monkeypatch.setitem(sys.modules, "ociruntime.spec._compiled_validator", module)
    if module is None:
        monkeypatch.delattr(ociruntime.spec, "_compiled_validator", raising=False)
    else:
        monkeypatch.setattr(ociruntime.spec, "_compiled_validator", module, raising=False)
    monkeypatch.setattr(validate, "_fast_validators", None)


def test_stale_compiled_module_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    stale = types.ModuleType("stale")
    stale.SCHEMA_CRC = schema_crc() + 1

    def accept_everything(document: object) -> object:
        return document

    stale.validate_config = stale.validate_process = stale.validate_resources = accept_everything
    _use_fast_module(monkeypatch, stale)
    assert not validate.fast_path_available()
    document, expected = INVALID_CONFIGS["namespace-type-unknown"]
    with pytest.raises(ConfigError) as info:
        parse_config(json.dumps(document))
    assert str(info.value) == expected


def _module_with(**attrs: object) -> types.ModuleType:
    module = types.ModuleType("compiled")
    for name, value in attrs.items():
        setattr(module, name, value)
    return module


def test_matching_stamp_is_trusted_without_checksum(monkeypatch: pytest.MonkeyPatch) -> None:
    """One stat decides on the hot path: the file is not read nor checksummed."""
    def no_checksum() -> int:
        raise AssertionError("schema_crc called although the stamp matches")

    monkeypatch.setattr("ociruntime.spec.schemas.schema_crc", no_checksum)
    assert validate._is_current(_module_with(SCHEMA_STAMP=schema_stamp(), SCHEMA_CRC=-1))


def test_changed_stamp_falls_back_to_checksum() -> None:
    size, mtime = schema_stamp()
    touched = (size, mtime + 1)  # e.g. a fresh checkout of the same schema
    assert validate._is_current(_module_with(SCHEMA_STAMP=touched, SCHEMA_CRC=schema_crc()))
    assert not validate._is_current(_module_with(SCHEMA_STAMP=touched, SCHEMA_CRC=schema_crc() + 1))
    assert not validate._is_current(_module_with(SCHEMA_CRC=schema_crc() + 1))


def test_generated_module_records_the_stamp(compiled) -> None:
    assert compiled.SCHEMA_STAMP == schema_stamp(), "stale: run `make build`"


def test_missing_compiled_module_falls_back_to_jsonschema(monkeypatch: pytest.MonkeyPatch) -> None:
    _use_fast_module(monkeypatch, None)  # None in sys.modules makes the import fail
    assert not validate.fast_path_available()
    parse_config(json.dumps(runtime_tools_config()))
    for name in ("cwd-number", "namespace-type-unknown", "rlimit-type-lowercase"):
        document, expected = INVALID_CONFIGS[name]
        with pytest.raises(ConfigError) as info:
            parse_config(json.dumps(document))
        assert str(info.value) == expected


def test_fast_path_is_used_when_current(monkeypatch: pytest.MonkeyPatch, compiled) -> None:
    calls: list[object] = []
    compiled_spy = types.ModuleType("spy")
    compiled_spy.SCHEMA_CRC = compiled.SCHEMA_CRC
    compiled_spy.validate_process = compiled.validate_process
    compiled_spy.validate_resources = compiled.validate_resources

    def validate_config(document: object) -> object:
        calls.append(document)
        return compiled.validate_config(document)

    compiled_spy.validate_config = validate_config
    _use_fast_module(monkeypatch, compiled_spy)
    assert validate.fast_path_available()
    parse_config(json.dumps(runtime_tools_config()))
    assert len(calls) == 1


_IMPORT_PROBE = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("ociruntime.spec._compiled_validator", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
sys.modules[spec.name] = module
from ociruntime.spec.load import parse_config
from ociruntime.errors import ConfigError
try:
    parse_config(sys.argv[2])
except ConfigError:
    pass
print(json.dumps(sorted(sys.modules)))
"""


def _modules_after_load(tmp_path: Path, document: object) -> set[str]:
    generated = tmp_path / "_compiled_validator.py"
    generated.write_text(compile_schema.generate())
    out = subprocess.run(
        [sys.executable, "-c", _IMPORT_PROBE, str(generated), json.dumps(document)],
        cwd=REPO, env={"PYTHONPATH": str(REPO)}, capture_output=True, text=True, check=True,
    )
    return set(json.loads(out.stdout))


HEAVY = ("jsonschema", "fastjsonschema", "referencing", "rpds", "attrs", "decimal", "hypothesis")


def test_accept_path_imports_nothing_heavy(tmp_path: Path) -> None:
    modules = _modules_after_load(tmp_path, runtime_tools_config())
    assert not {m for m in modules if m.split(".")[0] in HEAVY}


def test_reject_path_uses_jsonschema(tmp_path: Path) -> None:
    document, _ = INVALID_CONFIGS["namespace-type-unknown"]
    assert "jsonschema" in _modules_after_load(tmp_path, document)
