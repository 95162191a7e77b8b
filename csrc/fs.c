/* fs.c: openat2(2) for confined path resolution, fstatfs(2) to identify the
 * file system behind an fd (procfs, sysfs, tmpfs). */
#include "ociruntime.h"

#include <errno.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

int ocr_openat2(int dirfd, const char *path, uint64_t flags, uint64_t mode,
                uint64_t resolve)
{
    struct open_how how = {.flags = flags, .mode = mode, .resolve = resolve};
    long fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));

    if (fd < 0)
        return -errno;
    return (int)fd;
}

int ocr_fstatfs_type(int fd, int64_t *f_type)
{
    struct statfs st;

    if (fstatfs(fd, &st) < 0)
        return -errno;
    *f_type = (int64_t)st.f_type;
    return 0;
}
