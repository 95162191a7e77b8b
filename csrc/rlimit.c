/* rlimit.c: resource limits of a process (prlimit(2)), so that planning and the
 * runtime need not load Python's resource module (a shared library here). */
#include "ociruntime.h"

#include <errno.h>
#include <sys/resource.h>

int ocr_prlimit(int pid, int resource, const struct ocr_rlimit *new_limit,
                struct ocr_rlimit *old_limit)
{
    struct rlimit set;
    struct rlimit old;

    if (new_limit) {
        set.rlim_cur = new_limit->soft;
        set.rlim_max = new_limit->hard;
    }
    if (prlimit(pid, resource, new_limit ? &set : NULL, old_limit ? &old : NULL) < 0)
        return -errno;
    if (old_limit) {
        old_limit->soft = old.rlim_cur;
        old_limit->hard = old.rlim_max;
    }
    return 0;
}
