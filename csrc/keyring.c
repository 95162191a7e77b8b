/* keyring.c: keyctl(2) for the per-container session keyring. There is no
 * glibc wrapper and we do not want libkeyutils, so raw syscalls. */
#include "ociruntime.h"

#include <errno.h>
#include <sys/syscall.h>
#include <unistd.h>

/* name NULL joins a new anonymous session keyring. Returns its serial. */
int32_t ocr_join_session_keyring(const char *name)
{
    long serial = syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name);

    if (serial < 0)
        return -errno;
    return (int32_t)serial;
}

/* Writes "type;uid;gid;perm;description" (perm in hex) into buf. Returns the
 * full length including the NUL, which may exceed len (then buf is partial). */
int ocr_keyctl_describe(int32_t serial, char *buf, size_t len)
{
    long n = syscall(SYS_keyctl, KEYCTL_DESCRIBE, serial, buf, len);

    if (n < 0)
        return -errno;
    return (int)n;
}

int ocr_keyctl_setperm(int32_t serial, uint32_t perm)
{
    if (syscall(SYS_keyctl, KEYCTL_SETPERM, serial, perm) < 0)
        return -errno;
    return 0;
}
