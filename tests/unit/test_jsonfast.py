"""ociruntime.state.jsonfast against the json package: same values both ways, and bad
input rejected (the hot path parses state.json and config.json with it)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ociruntime.spec.parse import _parse_float, _reject_constant, parse_json
from ociruntime.errors import ConfigError
from ociruntime.state import jsonfast

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_round_trips_agree_with_json(value: object) -> None:
    assert json.loads(jsonfast.dumps(value)) == value
    assert jsonfast.loads(json.dumps(value)) == value
    text = json.dumps(value, indent=2)
    assert jsonfast.loads_with(text, _parse_float, _reject_constant) == json.loads(
        text, parse_float=_parse_float, parse_constant=_reject_constant)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_compact_and_indented_text_is_json_dumps_text(value: object) -> None:
    assert jsonfast.dumps(value) == json.dumps(value)
    assert json.loads(jsonfast.dumps(value, indent=2)) == value


def test_what_json_cannot_hold_is_a_type_error_naming_the_type() -> None:
    for indent in (None, 2):
        with pytest.raises(TypeError, match="cannot encode set as JSON"):
            jsonfast.dumps({"a": [1, {2}]}, indent=indent)


def test_integral_floats_become_ints_through_the_hooks() -> None:
    value = jsonfast.loads_with('{"a": 1.0, "b": 2e3, "c": 0.5}', _parse_float, _reject_constant)
    assert value == {"a": 1, "b": 2000, "c": 0.5}
    assert type(value["a"]) is int  # type: ignore[index]


@pytest.mark.parametrize("text", ["", "{", '{"a": 1} x', "[1,]", "NaN", '{"a": Infinity}', "[" * 100000, "'a'"])
def test_bad_documents_raise_value_or_recursion_error(text: str) -> None:
    with pytest.raises((ValueError, RecursionError)):
        jsonfast.loads_with(text, _parse_float, _reject_constant)


@pytest.mark.parametrize(("text", "message"), [
    ('{"a": 1,}', "invalid JSON at line 1, column 9"),
    ('{"a": NaN}', "NaN is not valid JSON"),
    ("[" * 100000, "nested too deeply"),
])
def test_parse_json_still_reports_where_and_why(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_json(text, "config.json")
    assert message in str(info.value)
