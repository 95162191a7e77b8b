"""Our schema against the upstream runtime-spec v1.3.0 schema.

Upstream is fetched at test time from the Go module proxy into a git-ignored cache
(build/gomodcache), then: (1) every property upstream defines exists in ours with a
compatible JSON type; (2) both schemas give the same accept/reject verdict on the corpus,
except for the listed places where ours follows the spec text and upstream's schema
does not (each with the reason).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

import jsonschema
import pytest
import referencing
import referencing.jsonschema

from ociruntime.spec.schemas import load_schema
from unit.test_spec_corpus import INVALID_CONFIGS, VALID_CONFIGS, runtime_tools_config

REPO = Path(__file__).resolve().parents[2]
MODULE = "github.com/opencontainers/runtime-spec@v1.3.0"
CACHE = REPO / "build" / "gomodcache"


def _download_upstream() -> Path:
    go = shutil.which("go") or "/usr/local/go/bin/go"
    CACHE.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, GOMODCACHE=str(CACHE), GOPATH=str(REPO / "build" / "gopath"),
               GOFLAGS="-modcacherw", GO111MODULE="on", GOTOOLCHAIN="local")
    out = subprocess.run([go, "mod", "download", "-json", MODULE], cwd=CACHE, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, f"go mod download failed: {out.stdout}{out.stderr}"
    schema_dir = Path(json.loads(out.stdout)["Dir"]) / "schema"
    assert (schema_dir / "config-schema.json").is_file()
    return schema_dir


@pytest.fixture(scope="module")
def upstream_dir() -> Path:
    return _download_upstream()


@pytest.fixture(scope="module")
def upstream(upstream_dir: Path) -> jsonschema.Draft4Validator:
    """Upstream's draft-04 config schema with its sibling files resolvable by relative $ref."""
    base = upstream_dir.as_uri() + "/"

    def retrieve(uri: str) -> referencing.Resource:
        path = Path(unquote(urlparse(uri).path))
        return referencing.Resource.from_contents(json.loads(path.read_text()), referencing.jsonschema.DRAFT4)

    schema = json.loads((upstream_dir / "config-schema.json").read_text())
    schema["id"] = urljoin(base, "config-schema.json")
    return jsonschema.Draft4Validator(schema, registry=referencing.Registry(retrieve=retrieve))


@pytest.fixture(scope="module")
def ours() -> jsonschema.Draft7Validator:
    return jsonschema.Draft7Validator(load_schema("config"))


# --- (1) property coverage ---------------------------------------------------------------

def _json_type_of(value: object) -> str:
    return {bool: "boolean", int: "integer", float: "number", str: "string", list: "array",
            dict: "object", type(None): "null"}[type(value)]


class PropertyMap:
    """Walks a schema (following $ref/allOf/anyOf/oneOf) into {property path: JSON types}.

    Path parts: property names, "[]" for array items, "{}" for map values.
    """

    def __init__(self, resolver_for) -> None:
        self.resolver_for = resolver_for
        self.types: dict[tuple[str, ...], set[str]] = {}

    def walk(self, schema: dict, resolver, path: tuple[str, ...] = (), depth: int = 0) -> None:
        if depth > 40 or not isinstance(schema, dict):
            return
        if "$ref" in schema:
            # upstream defs.json writes "#definitions/uint32" (no slash) once; read it as meant
            ref = schema["$ref"].replace("#definitions/", "#/definitions/")
            resolved = resolver.lookup(ref)
            self.walk(resolved.contents, resolved.resolver, path, depth + 1)
        for combinator in ("allOf", "anyOf", "oneOf"):
            for sub in schema.get(combinator, []):
                self.walk(sub, resolver, path, depth + 1)
        found = self.types.setdefault(path, set())
        kind = schema.get("type")
        if isinstance(kind, str):
            found.add(kind)
        elif isinstance(kind, list):
            found.update(kind)
        elif "enum" in schema:
            found.update(_json_type_of(v) for v in schema["enum"])
        for name, sub in schema.get("properties", {}).items():
            self.walk(sub, resolver, path + (name,), depth + 1)
        items = schema.get("items")
        for sub in items if isinstance(items, list) else [items] if isinstance(items, dict) else []:
            self.walk(sub, resolver, path + ("[]",), depth + 1)
        for sub in list(schema.get("patternProperties", {}).values()) + [schema.get("additionalProperties")]:
            if isinstance(sub, dict):
                self.walk(sub, resolver, path + ("{}",), depth + 1)


def _property_map(validator: jsonschema.protocols.Validator) -> dict[tuple[str, ...], set[str]]:
    mapping = PropertyMap(None)
    resolver = validator._resolver  # the referencing resolver rooted at the schema
    mapping.walk(validator.schema, resolver)
    return mapping.types


# Where the spec text and upstream's schema disagree, ours follows the text.
TYPE_DIFFERENCES = {
    # config-windows.md: "affinity (array of objects, OPTIONAL)"; upstream's schema says object.
    ("windows", "resources", "cpu", "affinity"): "array of objects per config-windows.md",
}


def _integer_compatible(ours: set[str], theirs: set[str]) -> bool:
    return ours == theirs or (theirs == {"number"} and ours == {"integer"})


def test_every_upstream_property_exists_in_ours_with_a_compatible_type(upstream, ours) -> None:
    theirs_map = _property_map(upstream)
    ours_map = _property_map(ours)
    assert len(theirs_map) > 300  # sanity: the walk really followed upstream's refs
    def excused(path: tuple[str, ...]) -> bool:
        return any(path[: len(prefix)] == prefix for prefix in TYPE_DIFFERENCES)

    missing = sorted(".".join(p) for p in theirs_map if p not in ours_map and not excused(p))
    assert not missing, f"upstream properties missing from ours: {missing}"
    mismatched = []
    for path, theirs_types in theirs_map.items():
        if excused(path) or not theirs_types:
            continue
        if not _integer_compatible(ours_map[path], theirs_types):
            mismatched.append((".".join(path), sorted(theirs_types), sorted(ours_map[path])))
    assert not mismatched, f"type mismatches (path, upstream, ours): {mismatched}"


# --- (2) verdicts on the corpus --------------------------------------------------------------

def _corpus() -> dict[str, object]:
    documents: dict[str, object] = {f"valid/{name}": doc for name, doc in VALID_CONFIGS.items()}
    for name, (document, _) in INVALID_CONFIGS.items():
        if isinstance(document, (str, bytes)):
            try:
                document = json.loads(document)
            except ValueError:
                continue  # not JSON: neither schema gets to see it
        documents[f"invalid/{name}"] = document
    return documents


def _rt(**changes) -> dict:
    config = runtime_tools_config()
    for dotted, value in changes.items():
        node = config
        parts = dotted.split("__")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return config


# name -> (document, ours accepts, upstream accepts, why they differ)
KNOWN_DIFFERENCES: dict[str, tuple[dict, bool, bool, str]] = {
    "pids-without-limit": (_rt(linux__resources__pids={}), True, False,
                           "config-linux.md 1.3.0: pids.limit is OPTIONAL; upstream's schema still requires it"),
    "io-priority-without-priority": (_rt(process__ioPriority={"class": "IOPRIO_CLASS_BE"}), False, True,
                                     "config.md: ioPriority.priority (int, REQUIRED)"),
    "personality-without-domain": (_rt(linux__personality={"flags": []}), False, True,
                                   "config-linux.md: personality.domain (string, REQUIRED)"),
    "memory-policy-without-mode": (_rt(linux__memoryPolicy={"nodes": "0"}), False, True,
                                   "config-linux.md: memoryPolicy.mode (string, REQUIRED)"),
    "throttle-without-rate": (_rt(linux__resources__blockIO={"throttleReadBpsDevice": [{"major": 8, "minor": 0}]}), False, True,
                              "config-linux.md: throttle devices: rate (uint64, REQUIRED)"),
    "device-file-mode-with-type-bits": (_rt(linux__devices=[{"path": "/dev/x", "type": "c", "major": 1, "minor": 3,
                                                             "fileMode": 8630}]), True, False,
                                        "config-linux.md: fileMode (uint32, OPTIONAL); upstream caps it at 0777"),
    "freebsd-device-without-path": (_rt(freebsd={"devices": [{"mode": 438}]}), False, True,
                                    "config-freebsd.md: devices[].path (string, REQUIRED)"),
    "freebsd-enforce-statfs-3": (_rt(freebsd={"jail": {"enforceStatfs": 3}}), False, True,
                                 "config-freebsd.md: enforceStatfs is 0, 1 or 2"),
    "integral-float": (_rt(process__user={"uid": 0.0, "gid": 0}), True, False,
                       "JSON Schema draft-04 (upstream) does not count 0.0 as an integer, draft-07 does; "
                       "our loader turns integral numbers into ints anyway"),
    "windows-affinity-array": (_rt(windows={"layerFolders": ["C:\\l"], "resources": {"cpu": {"affinity": [{"mask": 1, "group": 0}]}}}),
                               True, False, "config-windows.md: affinity (array of objects, OPTIONAL)"),
}

# Corpus entries whose verdicts differ for one of the reasons above.
CORPUS_DIFFERENCES = {"valid/pids-without-limit": "pids-without-limit", "valid/integral-float-number": "integral-float"}


@pytest.mark.parametrize("name", sorted(_corpus()))
def test_same_verdict_as_upstream(name: str, upstream, ours) -> None:
    document = _corpus()[name]
    if name in CORPUS_DIFFERENCES:
        _, ours_ok, upstream_ok, _ = KNOWN_DIFFERENCES[CORPUS_DIFFERENCES[name]]
        assert (ours.is_valid(document), upstream.is_valid(document)) == (ours_ok, upstream_ok)
    else:
        assert ours.is_valid(document) == upstream.is_valid(document)


def test_corpus_has_schema_level_rejections(upstream, ours) -> None:
    """The verdict test must see both outcomes, not only acceptances."""
    rejected = [name for name, doc in _corpus().items() if not upstream.is_valid(doc)]
    assert len(rejected) >= 25


@pytest.mark.parametrize("name", sorted(KNOWN_DIFFERENCES))
def test_known_differences_are_real(name: str, upstream, ours) -> None:
    document, ours_ok, upstream_ok, _reason = KNOWN_DIFFERENCES[name]
    assert ours.is_valid(document) is ours_ok
    assert upstream.is_valid(document) is upstream_ok
