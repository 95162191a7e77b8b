"""Build ociruntime.linux._native, the cffi extension (out-of-line API mode).

    python setup.py build_ext --inplace

The C surface is csrc/ociruntime.h (the region between the CFFI-CDEF markers),
plus csrc/constants.cdef (kernel constants, values taken from the system
headers at compile time) and csrc/libseccomp.cdef (the libseccomp subset the
seccomp compiler calls). The package version is compiled in so that
ociruntime.linux._lib refuses a stale build.
"""

from __future__ import annotations

import glob
import os
import re

from cffi import FFI
from setuptools import setup

HERE = os.path.dirname(os.path.abspath(__file__))
CSRC = os.path.join(HERE, "csrc")
CDEF_BEGIN = "/* CFFI-CDEF-BEGIN */"
CDEF_END = "/* CFFI-CDEF-END */"


def read(*parts: str) -> str:
    with open(os.path.join(HERE, *parts), encoding="utf-8") as f:
        return f.read()


def package_version() -> str:
    """ociruntime.__version__, read without importing the package."""
    match = re.search(r'^__version__\s*=\s*"([^"]+)"', read("ociruntime", "__init__.py"), re.M)
    if match is None:
        raise RuntimeError("ociruntime/__init__.py has no __version__")
    return match.group(1)


def header_cdef() -> str:
    """The declarations region of csrc/ociruntime.h."""
    text = read("csrc", "ociruntime.h")
    start, end = text.find(CDEF_BEGIN), text.find(CDEF_END)
    if start < 0 or end < start:
        raise RuntimeError("csrc/ociruntime.h lacks the CFFI-CDEF markers")
    return text[start + len(CDEF_BEGIN) : end]


def build_ffi() -> FFI:
    version = package_version()
    ffibuilder = FFI()
    ffibuilder.cdef(header_cdef())
    ffibuilder.cdef(read("csrc", "constants.cdef"))
    ffibuilder.cdef(read("csrc", "libseccomp.cdef"))
    sources = sorted(os.path.relpath(p, HERE) for p in glob.glob(os.path.join(CSRC, "*.c")))
    ffibuilder.set_source(
        "ociruntime.linux._native",
        '#include "ociruntime.h"\n#include <seccomp.h>\n',
        sources=sources,
        include_dirs=[os.path.relpath(CSRC, HERE)],
        libraries=["seccomp"],
        define_macros=[("_GNU_SOURCE", None), ("OCR_VERSION", f'"{version}"')],
        extra_compile_args=["-O2", "-Wall", "-Wextra", "-Werror=implicit-function-declaration"],
    )
    return ffibuilder


setup(
    name="ociruntime",
    version=package_version(),
    packages=[],
    ext_modules=[build_ffi().distutils_extension()],
    zip_safe=False,
)
