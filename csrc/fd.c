/* fd.c: close_range(2). */
#include "ociruntime.h"

#include <errno.h>
#include <sys/syscall.h>
#include <unistd.h>

int ocr_close_range(unsigned int first, unsigned int last, unsigned int flags)
{
    if (syscall(SYS_close_range, first, last, flags) < 0)
        return -errno;
    return 0;
}
