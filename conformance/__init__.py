"""Conformance harness: builds and runs the OCI runtime-tools validation suite (see README.md)."""
