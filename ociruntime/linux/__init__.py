"""Thin facades over the C extension, one module per kernel facility.

Only modules in this package import the compiled ``_native`` module (through
``_lib``); they turn -errno results into ``OSError(errno, "<what>: <strerror>")``.
"""
