"""Test helpers shared by the integration suites (runtime driver, bundles, leak checker)."""
