/* version.c: the package version, compiled in so the Python facade can
 * refuse a stale build (setup.py passes -DOCR_VERSION="x.y.z"). */
#include "ociruntime.h"

#ifndef OCR_VERSION
#error "OCR_VERSION must be defined by setup.py"
#endif

const char *ocr_version(void)
{
    return OCR_VERSION;
}
