/* prctl.c: attributes a process sets on itself (prctl(2)) and its capability
 * sets (capget(2)/capset(2)): dumpable, child subreaper, no_new_privs,
 * keep-caps, the parent-death signal, and the bounding set. */
#include "ociruntime.h"

#include <errno.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int ocr_prctl_set(int option, unsigned long value)
{
    if (prctl(option, value, 0, 0, 0) < 0)
        return -errno;
    return 0;
}

int ocr_prctl_get_pdeathsig(int *signal)
{
    if (prctl(PR_GET_PDEATHSIG, signal, 0, 0, 0) < 0)
        return -errno;
    return 0;
}

int ocr_capbset_read(unsigned long cap)
{
    int ret = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);

    if (ret < 0)
        return -errno;
    return ret;
}

int ocr_capbset_drop(unsigned long cap)
{
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
        return -errno;
    return 0;
}

int ocr_capget(struct ocr_capsets *sets)
{
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];

    if (syscall(SYS_capget, &hdr, data) < 0)
        return -errno;
    sets->effective = ((uint64_t)data[1].effective << 32) | data[0].effective;
    sets->permitted = ((uint64_t)data[1].permitted << 32) | data[0].permitted;
    sets->inheritable = ((uint64_t)data[1].inheritable << 32) | data[0].inheritable;
    return 0;
}

int ocr_capset(uint64_t effective, uint64_t permitted, uint64_t inheritable)
{
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2] = {
        {(uint32_t)effective, (uint32_t)permitted, (uint32_t)inheritable},
        {(uint32_t)(effective >> 32), (uint32_t)(permitted >> 32),
         (uint32_t)(inheritable >> 32)},
    };

    if (syscall(SYS_capset, &hdr, data) < 0)
        return -errno;
    return 0;
}
