"""Property tests: whatever bytes or JSON arrive, loading either succeeds or raises a
one-line ConfigError, never anything else."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ociruntime.errors import ConfigError
from ociruntime.spec.load import load_resources, parse_config, parse_process
from helpers.mutation import mutated_documents
from unit.test_spec_corpus import VALID_CONFIGS

KEYS = st.sampled_from(["ociVersion", "process", "root", "linux", "namespaces", "type", "path", "cwd", "args", "mounts",
                        "destination", "rlimits", "soft", "hard", "capabilities", "bounding", "sysctl", "hooks",
                        "prestart", "devices", "uidMappings", "timeOffsets", "resources", "user", "uid"]) | st.text(max_size=6)
LEAVES = (st.none() | st.booleans() | st.integers(min_value=-(2**66), max_value=2**66)
          | st.floats(allow_nan=False, allow_infinity=False)
          | st.sampled_from(["/", "tmp", "1.3.0", "2.0.0", "pid", "user", "uts", "RLIMIT_NOFILE", "CAP_KILL", "c", "p",
                             "net.ipv4.ip_forward", "kernel.shmmax", "SCHED_FIFO", ""]) | st.text(max_size=10))
JSON = st.recursive(LEAVES, lambda c: st.lists(c, max_size=4) | st.dictionaries(KEYS, c, max_size=5), max_leaves=20)


def _only_config_errors(call) -> None:
    try:
        call()
    except ConfigError as exc:
        assert str(exc) and "\n" not in str(exc)


@settings(max_examples=300, deadline=None)
@given(document=JSON)
def test_arbitrary_json(document: object) -> None:
    text = json.dumps(document)
    _only_config_errors(lambda: parse_config(text))
    _only_config_errors(lambda: parse_process(text, "process.json"))
    _only_config_errors(lambda: load_resources(text, "-"))


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=64) | st.text(max_size=64).map(str.encode))
def test_arbitrary_bytes(data: bytes) -> None:
    _only_config_errors(lambda: parse_config(data))


def near_valid_configs() -> st.SearchStrategy:
    """A valid config with one to three subtrees replaced by arbitrary values."""
    return mutated_documents(VALID_CONFIGS, JSON)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=near_valid_configs())
def test_near_valid_configs(document: object) -> None:
    _only_config_errors(lambda: parse_config(json.dumps(document)))


def test_deep_nesting_is_a_config_error() -> None:
    deep = "[" * 100000 + "]" * 100000
    _only_config_errors(lambda: parse_config(deep))
    nested_value = '{"ociVersion": "1.3.0", "x": ' + "[" * 5000 + "]" * 5000 + "}"
    _only_config_errors(lambda: parse_config(nested_value))
