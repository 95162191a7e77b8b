/* clone.c: clone3(2) with CLONE_INTO_CGROUP, so a child is born in its cgroup v2
 * directory. A cgroup.procs write would take the kernel's cgroup_threadgroup_rwsem for
 * writing, which waits for an RCU grace period (5-15 ms here); a fork into the cgroup
 * takes it only for reading.
 *
 * The raw syscall bypasses fork(), so this file does what os.fork() does around it:
 * CPython's PyOS_BeforeFork / PyOS_AfterFork_* (import lock, GIL, at-fork hooks). cffi
 * calls us without the GIL; PyGILState_Ensure takes it back for that protocol. What glibc's
 * fork() adds (its cached thread id, the robust-futex list, pthread_atfork handlers, the
 * locks of other threads) matters only to a threaded caller, and ours are single-threaded
 * (linux/clone.py checks). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "ociruntime.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_clone3
#define SYS_clone3 435 /* x86-64 and the asm-generic table (arm64) */
#endif

#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif

/* struct clone_args as of Linux 5.7 (CLONE_ARGS_SIZE_VER2): the first size with .cgroup. */
struct ocr_clone_args {
    uint64_t flags;
    uint64_t pidfd;
    uint64_t child_tid;
    uint64_t parent_tid;
    uint64_t exit_signal;
    uint64_t stack;
    uint64_t stack_size;
    uint64_t tls;
    uint64_t set_tid;
    uint64_t set_tid_size;
    uint64_t cgroup;
};

static long clone3_into_cgroup(int cgroup_fd)
{
    struct ocr_clone_args args;

    memset(&args, 0, sizeof(args));
    args.flags = CLONE_INTO_CGROUP;
    args.exit_signal = SIGCHLD;
    args.cgroup = (uint64_t)cgroup_fd;
    return syscall(SYS_clone3, &args, sizeof(args));
}

int ocr_fork_into_cgroup(int cgroup_fd)
{
    PyGILState_STATE gil = PyGILState_Ensure();
    long pid;
    int err;

    PyOS_BeforeFork();
    pid = clone3_into_cgroup(cgroup_fd);
    err = errno;
    if (pid == 0)
        PyOS_AfterFork_Child();
    else
        PyOS_AfterFork_Parent();
    PyGILState_Release(gil);
    if (pid < 0)
        return -err;
    return (int)pid;
}
