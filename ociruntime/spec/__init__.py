"""config.json model: loading, schema validation and semantic checks.

Kept empty on purpose: every verb is a new process, so callers import the submodule they
need (``ociruntime.spec.load``, ``ociruntime.spec.default``) and nothing more.
"""
