/* mount.c: mount(2), umount2(2), pivot_root(2), mount_setattr(2),
 * open_tree(2), move_mount(2). Raw syscalls for the newer ones so the
 * module does not depend on the libc having wrappers. */
#include "ociruntime.h"

#include <errno.h>
#include <sys/syscall.h>
#include <unistd.h>

int ocr_mount(const char *source, const char *target, const char *fstype,
              unsigned long flags, const char *data)
{
    if (mount(source, target, fstype, flags, data) < 0)
        return -errno;
    return 0;
}

int ocr_umount(const char *target, int flags)
{
    if (umount2(target, flags) < 0)
        return -errno;
    return 0;
}

int ocr_pivot_root(const char *new_root, const char *put_old)
{
    if (syscall(SYS_pivot_root, new_root, put_old) < 0)
        return -errno;
    return 0;
}

int ocr_mount_setattr(int dirfd, const char *path, unsigned int flags,
                      uint64_t attr_set, uint64_t attr_clr,
                      uint64_t propagation, int userns_fd)
{
    struct mount_attr attr = {
        .attr_set = attr_set,
        .attr_clr = attr_clr,
        .propagation = propagation,
        .userns_fd = userns_fd < 0 ? 0 : (uint64_t)userns_fd,
    };

    if (syscall(SYS_mount_setattr, dirfd, path, flags, &attr, sizeof(attr)) < 0)
        return -errno;
    return 0;
}

int ocr_open_tree(int dirfd, const char *path, unsigned int flags)
{
    long fd = syscall(SYS_open_tree, dirfd, path, flags);

    if (fd < 0)
        return -errno;
    return (int)fd;
}

int ocr_move_mount(int from_dirfd, const char *from_path, int to_dirfd,
                   const char *to_path, unsigned int flags)
{
    if (syscall(SYS_move_mount, from_dirfd, from_path, to_dirfd, to_path, flags) < 0)
        return -errno;
    return 0;
}
