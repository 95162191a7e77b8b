/* uts.c: sethostname(2) and setdomainname(2). */
#include "ociruntime.h"

#include <errno.h>
#include <unistd.h>

int ocr_sethostname(const char *name, size_t len)
{
    if (sethostname(name, len) < 0)
        return -errno;
    return 0;
}

int ocr_setdomainname(const char *name, size_t len)
{
    if (setdomainname(name, len) < 0)
        return -errno;
    return 0;
}
