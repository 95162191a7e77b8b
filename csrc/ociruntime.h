/*
 * ociruntime.h: the whole C surface of ociruntime.linux._native.
 *
 * Rules for everything declared here:
 *   - one kernel facility per .c file (named in the section comments);
 *   - functions return 0 (or a non-negative value such as an fd) on success
 *     and -errno on failure; they never print, never exit, never allocate
 *     memory the caller has to free;
 *   - strings are NUL-terminated bytes already encoded by Python.
 *
 * setup.py feeds the text between the CFFI-CDEF markers to cffi.cdef(), so
 * that region must stay plain declarations (no #include, no macros).
 * Kernel constants exposed to Python are listed in constants.cdef; the
 * libseccomp functions Python calls directly are listed in libseccomp.cdef.
 */
#ifndef OCIRUNTIME_H
#define OCIRUNTIME_H

#include <stddef.h>
#include <stdint.h>

/* System headers that define the constants listed in constants.cdef. */
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/close_range.h>
#include <linux/keyctl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>

/* CFFI-CDEF-BEGIN */

/* version.c: the package version this module was built from. */
const char *ocr_version(void);

/* mount.c: mount(2), umount2(2), pivot_root(2) and the new mount API. */
int ocr_mount(const char *source, const char *target, const char *fstype,
              unsigned long flags, const char *data);
int ocr_umount(const char *target, int flags);
int ocr_pivot_root(const char *new_root, const char *put_old);
int ocr_mount_setattr(int dirfd, const char *path, unsigned int flags,
                      uint64_t attr_set, uint64_t attr_clr,
                      uint64_t propagation, int userns_fd);
int ocr_open_tree(int dirfd, const char *path, unsigned int flags);
int ocr_move_mount(int from_dirfd, const char *from_path, int to_dirfd,
                   const char *to_path, unsigned int flags);

/* ns.c: namespaces. */
int ocr_unshare(int flags);
int ocr_setns(int fd, int nstype);
int ocr_ns_get_type(int fd);

/* clone.c: fork(2) as os.fork() does, but born in the cgroup v2 directory cgroup_fd
 * (clone3 with CLONE_INTO_CGROUP, Linux 5.7+). Returns the child's pid in the parent,
 * 0 in the child; -ENOSYS, -E2BIG or -EINVAL where the kernel lacks the flag. */
int ocr_fork_into_cgroup(int cgroup_fd);

/* uts.c: host and domain name (of the current UTS namespace). */
int ocr_sethostname(const char *name, size_t len);
int ocr_setdomainname(const char *name, size_t len);

/* keyring.c: session keyrings (keyctl(2)). Serials are positive. */
int32_t ocr_join_session_keyring(const char *name);
int ocr_keyctl_describe(int32_t serial, char *buf, size_t len);
int ocr_keyctl_setperm(int32_t serial, uint32_t perm);

/* fd.c: file descriptor table. */
int ocr_close_range(unsigned int first, unsigned int last, unsigned int flags);

/* fs.c: path resolution and file system identity. */
int ocr_openat2(int dirfd, const char *path, uint64_t flags, uint64_t mode,
                uint64_t resolve);
int ocr_fstatfs_type(int fd, int64_t *f_type);

/* seccomp.c: load a compiled classic-BPF filter.
 * bpf/len: the program as exported by libseccomp (len in bytes, a multiple
 * of 8); flags: SECCOMP_FILTER_FLAG_*. With SECCOMP_FILTER_FLAG_NEW_LISTENER
 * the listener fd is sent over the unix socket notify_fd (one sendmsg, one
 * SCM_RIGHTS fd) and both fds are closed. */
int ocr_seccomp_install(const void *bpf, size_t len, unsigned int flags,
                        int notify_fd);
/* 1 if the kernel knows these filter flags, 0 if not, -errno on error. */
int ocr_seccomp_flags_known(unsigned int flags);
/* 1 if the kernel supports this SECCOMP_RET_* action, 0 if not. */
int ocr_seccomp_action_available(uint32_t action);

/* exec.c: the last step of a container process.
 * Optionally loads a seccomp filter, then optionally sets the final
 * capability sets, then execve(2). Returns only on failure, with -errno;
 * *failed_step tells which step failed (OCR_STEP_*). */
struct ocr_capsets {
    uint64_t effective;
    uint64_t permitted;
    uint64_t inheritable;
    uint64_t ambient;
};
enum ocr_exec_step {
    OCR_STEP_NONE = 0,
    OCR_STEP_RAISE_EFFECTIVE = 1,
    OCR_STEP_SECCOMP = 2,
    OCR_STEP_CAPSET = 3,
    OCR_STEP_AMBIENT = 4,
    OCR_STEP_EXECVE = 5
};

/* Make the ambient capability set exactly `mask` (clear, then raise each bit). Each
 * capability must already be in the permitted and inheritable sets. -errno on failure;
 * *failed_cap is the capability that could not be raised, or -1 for the clear. */
int ocr_cap_ambient_set(uint64_t mask, int *failed_cap);

/* prctl.c: prctl(2) attributes of the calling process and its capability sets.
 * ocr_prctl_set: options that take one argument (PR_SET_DUMPABLE,
 * PR_SET_CHILD_SUBREAPER, PR_SET_NO_NEW_PRIVS, PR_SET_KEEPCAPS, PR_SET_PDEATHSIG).
 * ocr_capbset_read: 1 if cap is in the bounding set, 0 if not. ocr_capget fills
 * effective, permitted and inheritable (not ambient). */
int ocr_prctl_set(int option, unsigned long value);
int ocr_prctl_get_pdeathsig(int *signal);
int ocr_capbset_read(unsigned long cap);
int ocr_capbset_drop(unsigned long cap);
int ocr_capget(struct ocr_capsets *sets);
int ocr_capset(uint64_t effective, uint64_t permitted, uint64_t inheritable);

/* rlimit.c: prlimit(2) on pid (0: the caller). new_limit NULL: only read;
 * old_limit NULL: only set. Limits are rlim_t (RLIM_INFINITY = all ones). */
struct ocr_rlimit {
    uint64_t soft;
    uint64_t hard;
};
int ocr_prlimit(int pid, int resource, const struct ocr_rlimit *new_limit,
                struct ocr_rlimit *old_limit);

/* exec_fd >= 0: execute that fd (execveat AT_EMPTY_PATH, else execve of
 * /proc/self/fd/N) instead of path; path then only names the target. */
int ocr_execve(const char *path, char *const argv[], char *const envp[],
               const void *bpf, size_t bpf_len, unsigned int seccomp_flags,
               int notify_fd, const struct ocr_capsets *caps, int exec_fd,
               int *failed_step);

/* dmz_memfd.c: the ociruntime-dmz trampoline (csrc/dmz/dmz.c, embedded at
 * build time) in a memfd: close-on-exec, sealed against writes, shrinking,
 * growing and further seals. Returns the fd. ocr_dmz_size: its length. */
int ocr_dmz_memfd(void);
size_t ocr_dmz_size(void);

/* bpf.c: bpf(2) for cgroup v2 device control (BPF_PROG_TYPE_CGROUP_DEVICE).
 * insns/len: struct bpf_insn array, len in bytes. log/log_size: the verifier
 * log buffer (log_size 0 for none). query: *count is the room in ids on input
 * and the number attached on output (-ENOSPC if that is more than the room). */
int ocr_bpf_load_cgroup_device(const void *insns, size_t len, const char *license,
                               const char *name, char *log, uint32_t log_size);
int ocr_bpf_prog_attach(int target_fd, int prog_fd, uint32_t attach_type, uint32_t flags);
int ocr_bpf_prog_detach(int target_fd, int prog_fd, uint32_t attach_type);
int ocr_bpf_prog_query(int target_fd, uint32_t attach_type, uint32_t *attach_flags,
                       uint32_t *ids, uint32_t *count);
int ocr_bpf_prog_get_fd_by_id(uint32_t id);
int ocr_bpf_prog_info(int prog_fd, uint32_t *id, uint32_t *prog_type, char *name,
                      size_t name_len);

/* CFFI-CDEF-END */

#endif /* OCIRUNTIME_H */
