/* exec.c: the final step of a container process, in one C function so that no
 * Python runs under the container's seccomp filter:
 *   1. (filter and capability sets given) raise the effective set to the
 *      permitted set, so CAP_SYS_ADMIN is effective when the filter is loaded
 *      without no_new_privs;
 *   2. load the seccomp filter (and hand over the listener fd);
 *   3. set the final effective/permitted/inheritable sets and the ambient set;
 *   4. execve(2), or, given exec_fd, execveat(exec_fd, "", AT_EMPTY_PATH): the
 *      ociruntime-dmz memfd, which execs the target (CVE-2019-5736: the host
 *      interpreter must never be /proc/self/exe at the target's execve).
 * Only the syscalls of steps 3 and 4 (capset, prctl, execve/execveat) and the
 * listener hand-over (sendmsg, close) run under the filter. */
#include "ociruntime.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static int raise_effective_to_permitted(void)
{
    struct ocr_capsets current;
    int err = ocr_capget(&current);

    if (err < 0)
        return err;
    return ocr_capset(current.permitted, current.permitted, current.inheritable);
}

int ocr_cap_ambient_set(uint64_t mask, int *failed_cap)
{
    unsigned long cap;

    *failed_cap = -1;
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
        return -errno;
    for (cap = 0; cap < 64; cap++) {
        if (!(mask & (1ULL << cap)))
            continue;
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0) {
            *failed_cap = (int)cap;
            return -errno;
        }
    }
    return 0;
}

static int set_ambient(uint64_t ambient)
{
    int failed_cap;

    return ocr_cap_ambient_set(ambient, &failed_cap);
}

/* Execute the file open at fd. execveat first: it needs no /proc in the
 * container. A filter that refuses execveat but allows execve (older profiles)
 * gets execve of the fd's /proc path; the first error is the one reported. */
static int exec_fd_or_path(int fd, const char *fd_path, char *const argv[],
                           char *const envp[])
{
    int err;

    syscall(SYS_execveat, fd, "", argv, envp, AT_EMPTY_PATH);
    err = -errno;
    execve(fd_path, argv, envp);
    return err;
}

int ocr_execve(const char *path, char *const argv[], char *const envp[],
               const void *bpf, size_t bpf_len, unsigned int seccomp_flags,
               int notify_fd, const struct ocr_capsets *caps, int exec_fd,
               int *failed_step)
{
    char fd_path[32];
    int err;

    *failed_step = OCR_STEP_NONE;
    /* formatted now: nothing but the syscalls named above runs under the filter */
    if (exec_fd >= 0)
        snprintf(fd_path, sizeof(fd_path), "/proc/self/fd/%d", exec_fd);
    if (bpf != NULL && caps != NULL) {
        err = raise_effective_to_permitted();
        if (err < 0) {
            *failed_step = OCR_STEP_RAISE_EFFECTIVE;
            return err;
        }
    }
    if (bpf != NULL) {
        err = ocr_seccomp_install(bpf, bpf_len, seccomp_flags, notify_fd);
        if (err < 0) {
            *failed_step = OCR_STEP_SECCOMP;
            return err;
        }
    }
    if (caps != NULL) {
        err = ocr_capset(caps->effective, caps->permitted, caps->inheritable);
        if (err < 0) {
            *failed_step = OCR_STEP_CAPSET;
            return err;
        }
        err = set_ambient(caps->ambient);
        if (err < 0) {
            *failed_step = OCR_STEP_AMBIENT;
            return err;
        }
    }
    *failed_step = OCR_STEP_EXECVE;
    if (exec_fd >= 0)
        return exec_fd_or_path(exec_fd, fd_path, argv, envp);
    execve(path, argv, envp);
    return -errno;
}
