/* bpf.c: bpf(2) for cgroup v2 device control: load a BPF_PROG_TYPE_CGROUP_DEVICE
 * program, attach it to / detach it from a cgroup directory, list what is attached,
 * and look programs up by id. There is no glibc wrapper and we do not want libbpf,
 * so raw syscalls with union bpf_attr zeroed first (the kernel rejects non-zero
 * bytes past the fields a command uses). */
#include "ociruntime.h"

#include <errno.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static long sys_bpf(int cmd, union bpf_attr *attr)
{
    return syscall(SYS_bpf, cmd, attr, sizeof(*attr));
}

static uint64_t ptr_to_u64(const void *p)
{
    return (uint64_t)(uintptr_t)p;
}

/* insns/len: struct bpf_insn array (len in bytes, a multiple of 8). name may be
 * NULL; it is truncated to BPF_OBJ_NAME_LEN - 1 bytes. With log/log_size the
 * verifier writes its log there (log_size 0: no log). Returns the program fd. */
int ocr_bpf_load_cgroup_device(const void *insns, size_t len, const char *license,
                               const char *name, char *log, uint32_t log_size)
{
    union bpf_attr attr;
    long fd;

    if (insns == NULL || len == 0 || len % sizeof(struct bpf_insn) != 0 || license == NULL)
        return -EINVAL;
    memset(&attr, 0, sizeof(attr));
    attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    attr.insns = ptr_to_u64(insns);
    attr.insn_cnt = (uint32_t)(len / sizeof(struct bpf_insn));
    attr.license = ptr_to_u64(license);
    if (log != NULL && log_size > 0) {
        log[0] = '\0';
        attr.log_buf = ptr_to_u64(log);
        attr.log_size = log_size;
        attr.log_level = 1;
    }
    if (name != NULL)
        strncpy(attr.prog_name, name, sizeof(attr.prog_name) - 1);
    fd = sys_bpf(BPF_PROG_LOAD, &attr);
    if (fd < 0)
        return -errno;
    return (int)fd;
}

int ocr_bpf_prog_attach(int target_fd, int prog_fd, uint32_t attach_type, uint32_t flags)
{
    union bpf_attr attr;

    memset(&attr, 0, sizeof(attr));
    attr.target_fd = (uint32_t)target_fd;
    attr.attach_bpf_fd = (uint32_t)prog_fd;
    attr.attach_type = attach_type;
    attr.attach_flags = flags;
    if (sys_bpf(BPF_PROG_ATTACH, &attr) < 0)
        return -errno;
    return 0;
}

int ocr_bpf_prog_detach(int target_fd, int prog_fd, uint32_t attach_type)
{
    union bpf_attr attr;

    memset(&attr, 0, sizeof(attr));
    attr.target_fd = (uint32_t)target_fd;
    attr.attach_bpf_fd = (uint32_t)prog_fd;
    attr.attach_type = attach_type;
    if (sys_bpf(BPF_PROG_DETACH, &attr) < 0)
        return -errno;
    return 0;
}

/* ids has room for *count ids; on return *count is the number attached (which
 * may exceed the room: then the call fails with -ENOSPC and ids holds the first
 * ones). *attach_flags gets the attach flags of the cgroup for this type. */
int ocr_bpf_prog_query(int target_fd, uint32_t attach_type, uint32_t *attach_flags,
                       uint32_t *ids, uint32_t *count)
{
    union bpf_attr attr;
    long ret;

    if (count == NULL || attach_flags == NULL || (ids == NULL && *count != 0))
        return -EINVAL;
    memset(&attr, 0, sizeof(attr));
    attr.query.target_fd = (uint32_t)target_fd;
    attr.query.attach_type = attach_type;
    attr.query.prog_ids = ptr_to_u64(ids);
    attr.query.prog_cnt = *count;
    ret = sys_bpf(BPF_PROG_QUERY, &attr);
    *count = attr.query.prog_cnt;
    *attach_flags = attr.query.attach_flags;
    if (ret < 0)
        return -errno;
    return 0;
}

/* Returns a new fd for the program with this id. */
int ocr_bpf_prog_get_fd_by_id(uint32_t id)
{
    union bpf_attr attr;
    long fd;

    memset(&attr, 0, sizeof(attr));
    attr.prog_id = id;
    fd = sys_bpf(BPF_PROG_GET_FD_BY_ID, &attr);
    if (fd < 0)
        return -errno;
    return (int)fd;
}

/* The program's id, type and name (name must have room for BPF_OBJ_NAME_LEN). */
int ocr_bpf_prog_info(int prog_fd, uint32_t *id, uint32_t *prog_type, char *name, size_t name_len)
{
    struct bpf_prog_info info;
    union bpf_attr attr;

    if (id == NULL || prog_type == NULL || name == NULL || name_len < sizeof(info.name))
        return -EINVAL;
    memset(&info, 0, sizeof(info));
    memset(&attr, 0, sizeof(attr));
    attr.info.bpf_fd = (uint32_t)prog_fd;
    attr.info.info_len = sizeof(info);
    attr.info.info = ptr_to_u64(&info);
    if (sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &attr) < 0)
        return -errno;
    *id = info.id;
    *prog_type = info.type;
    memcpy(name, info.name, sizeof(info.name));
    name[sizeof(info.name) - 1] = '\0';
    return 0;
}
