/* seccomp.c: load a classic-BPF filter compiled by libseccomp in the runtime
 * parent, hand the user-notification listener to the runtime, and probe what
 * the kernel supports. The filter is built elsewhere (libseccomp, called from
 * Python before any fork); this file only talks to seccomp(2). */
#include "ociruntime.h"

#include <errno.h>
#include <linux/filter.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Payload that travels with the listener fd; receivers only need the fd. */
static const char listener_payload[] = "seccomp-listener";

static int send_one_fd(int sock, int fd)
{
    struct iovec iov = {
        .iov_base = (void *)listener_payload,
        .iov_len = sizeof(listener_payload) - 1,
    };
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int))];
    } control;
    struct msghdr msg = {
        .msg_iov = &iov,
        .msg_iovlen = 1,
        .msg_control = control.buf,
        .msg_controllen = sizeof(control.buf),
    };
    struct cmsghdr *cmsg;
    ssize_t sent;

    memset(&control, 0, sizeof(control));
    cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));

    do {
        sent = sendmsg(sock, &msg, MSG_NOSIGNAL);
    } while (sent < 0 && errno == EINTR);
    if (sent < 0)
        return -errno;
    return 0;
}

int ocr_seccomp_install(const void *bpf, size_t len, unsigned int flags,
                        int notify_fd)
{
    struct sock_fprog prog;
    int wants_listener = (flags & SECCOMP_FILTER_FLAG_NEW_LISTENER) != 0;
    long ret;
    int err;

    if (bpf == NULL || len == 0 || len % sizeof(struct sock_filter) != 0 ||
        len / sizeof(struct sock_filter) > BPF_MAXINSNS)
        return -EINVAL;
    if (wants_listener && notify_fd < 0)
        return -EBADF;

    prog.len = (unsigned short)(len / sizeof(struct sock_filter));
    prog.filter = (struct sock_filter *)bpf;
    ret = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
    if (ret < 0)
        return -errno;
    /* TSYNC without TSYNC_ESRCH reports a thread it could not sync as a
     * positive tid; without a listener any positive value is that failure. */
    if (!wants_listener) {
        if (ret > 0)
            return -ESRCH;
        return 0;
    }

    err = send_one_fd(notify_fd, (int)ret);
    if (close((int)ret) < 0 && err == 0)
        err = -errno;
    if (close(notify_fd) < 0 && err == 0)
        err = -errno;
    return err;
}

/* The kernel validates flags before it reads the program, so a NULL program
 * fails with EFAULT when the flags are known and EINVAL when they are not.
 * Nothing is installed either way. */
int ocr_seccomp_flags_known(unsigned int flags)
{
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, NULL) == 0)
        return -EINVAL; /* cannot happen: NULL program */
    if (errno == EFAULT)
        return 1;
    if (errno == EINVAL)
        return 0;
    return -errno;
}

int ocr_seccomp_action_available(uint32_t action)
{
    if (syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action) == 0)
        return 1;
    if (errno == EOPNOTSUPP || errno == EINVAL)
        return 0;
    return -errno;
}
