/* ns.c: unshare(2), setns(2) and the nsfs NS_GET_NSTYPE ioctl. */
#include "ociruntime.h"

#include <errno.h>
#include <linux/nsfs.h>
#include <sys/ioctl.h>

int ocr_unshare(int flags)
{
    if (unshare(flags) < 0)
        return -errno;
    return 0;
}

int ocr_setns(int fd, int nstype)
{
    if (setns(fd, nstype) < 0)
        return -errno;
    return 0;
}

/* Returns the CLONE_NEW* type of a namespace fd; -ENOTTY if fd is not one. */
int ocr_ns_get_type(int fd)
{
    int type = ioctl(fd, NS_GET_NSTYPE);

    if (type < 0)
        return -errno;
    return type;
}
