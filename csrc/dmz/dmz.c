/* dmz.c: ociruntime-dmz, the static trampoline that performs a container
 * process's final execve (CVE-2019-5736).
 *
 * The runtime's container processes are forked Python interpreters, so their
 * /proc/self/exe is the host interpreter. If they called execve(target)
 * themselves, a target that is '#!/proc/self/exe' (or a symlink to it) would
 * make the kernel start the host interpreter inside the container. Instead
 * they exec this program from a sealed memfd (csrc/dmz_memfd.c), and it execs
 * the target: /proc/self/exe is then the sealed memfd, never a host file.
 *
 * No libc (built -static -nostdlib -ffreestanding): the process runs under
 * the container's seccomp filter, and its only syscalls are fcntl (close, if
 * fcntl is refused), execve and, on failure, write and exit_group; waiting for
 * `start` adds prctl, rt_sigaction, read, write and close.
 *
 * argv: [DMZ_ARGV0, report_fd, carried_fds, wait_fd, ready_fd, ready_message,
 *        template, path, target argv...]
 *   report_fd    decimal fd that gets the failure report (-1: stderr only)
 *   carried_fds  comma-separated fds the runtime kept open across the exec of
 *                this program (so they close at the target's execve, not at
 *                ours): made close-on-exec before execve; "" for none
 *   wait_fd      -1, or the container init's exec fifo: then this program is
 *                the created container's init until `start`. It makes itself
 *                non-dumpable, lets the signals the runtime's waiting init
 *                dies from (FATAL_WHILE_WAITING) end it with 128+signal,
 *                writes ready_message to ready_fd and closes that, then blocks
 *                until one byte arrives on wait_fd. A step that fails before
 *                the message sends an error record there instead.
 *   template     the report: %d is replaced by errno, %s by its text, %% by %
 *   path         what to execve; target argv follows (argv[0] first)
 * Exit status when execve fails: 127 for ENOENT, 1 otherwise (as the runtime's
 * own execve failure path). Started any other way (argv[0] is not DMZ_ARGV0,
 * e.g. as the interpreter of '#!/proc/self/exe'), it says so on stderr and
 * exits 127 without exec'ing anything. */

#define DMZ_ARGV0 "ociruntime-dmz"

#define ENOENT 2
#define EINTR 4
#define F_SETFD 2
#define PR_SET_DUMPABLE 4
#define PR_SET_NAME 15
#define SA_RESTORER 0x04000000
#define FD_CLOEXEC 1
#define STDERR 2
#define REPORT_MAX 4096

#if defined(__x86_64__)
#define SYS_read 0
#define SYS_write 1
#define SYS_close 3
#define SYS_rt_sigaction 13
#define SYS_execve 59
#define SYS_fcntl 72
#define SYS_prctl 157
#define SYS_exit_group 231

static long sys3(long n, long a, long b, long c)
{
    long ret;

    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(n), "D"(a), "S"(b), "d"(c)
                     : "rcx", "r11", "memory");
    return ret;
}

static long sys4(long n, long a, long b, long c, long d)
{
    long ret;
    register long r10 __asm__("r10") = d;

    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10)
                     : "rcx", "r11", "memory");
    return ret;
}

/* sa_restorer: x86-64 signal frames need one (our handler never returns). */
__asm__(".text\n"
        "dmz_sigreturn:\n"
        "  mov $15, %eax\n"
        "  syscall\n"
        "  hlt\n");

__asm__(".text\n"
        ".global _start\n"
        "_start:\n"
        "  xor %rbp, %rbp\n"
        "  mov %rsp, %rdi\n"
        "  and $-16, %rsp\n"
        "  call dmz_main\n"
        "  hlt\n");
#elif defined(__aarch64__)
#define SYS_read 63
#define SYS_write 64
#define SYS_close 57
#define SYS_rt_sigaction 134
#define SYS_execve 221
#define SYS_fcntl 25
#define SYS_prctl 167
#define SYS_exit_group 94

static long sys3(long n, long a, long b, long c)
{
    register long x8 __asm__("x8") = n;
    register long x0 __asm__("x0") = a;
    register long x1 __asm__("x1") = b;
    register long x2 __asm__("x2") = c;

    __asm__ volatile("svc #0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2) : "memory");
    return x0;
}

static long sys4(long n, long a, long b, long c, long d)
{
    register long x8 __asm__("x8") = n;
    register long x0 __asm__("x0") = a;
    register long x1 __asm__("x1") = b;
    register long x2 __asm__("x2") = c;
    register long x3 __asm__("x3") = d;

    __asm__ volatile("svc #0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3) : "memory");
    return x0;
}

__asm__(".text\n"
        "dmz_sigreturn:\n"
        "  mov x8, #139\n"
        "  svc #0\n"
        "  brk #0\n");

__asm__(".text\n"
        ".global _start\n"
        "_start:\n"
        "  mov x0, sp\n"
        "  mov x29, #0\n"
        "  mov x30, #0\n"
        "  bl dmz_main\n"
        "  brk #0\n");
#else
#error "ociruntime-dmz: only x86-64 and arm64 are supported"
#endif

/* Texts as glibc's strerror gives them (the runtime's messages use those). */
static const char *errno_text(long err)
{
    switch (err) {
    case 1: return "Operation not permitted";
    case 2: return "No such file or directory";
    case 5: return "Input/output error";
    case 6: return "No such device or address";
    case 7: return "Argument list too long";
    case 8: return "Exec format error";
    case 9: return "Bad file descriptor";
    case 11: return "Resource temporarily unavailable";
    case 12: return "Cannot allocate memory";
    case 13: return "Permission denied";
    case 14: return "Bad address";
    case 20: return "Not a directory";
    case 21: return "Is a directory";
    case 22: return "Invalid argument";
    case 23: return "Too many open files in system";
    case 24: return "Too many open files";
    case 26: return "Text file busy";
    case 36: return "File name too long";
    case 38: return "Function not implemented";
    case 40: return "Too many levels of symbolic links";
    case 80: return "Accessing a corrupted shared library";
    default: return 0;
    }
}

static __attribute__((noreturn)) void exit_group(int code)
{
    for (;;)
        sys3(SYS_exit_group, code, 0, 0);
}

static long str_len(const char *s)
{
    long n = 0;

    while (s[n])
        n++;
    return n;
}

static int str_eq(const char *a, const char *b)
{
    while (*a && *a == *b) {
        a++;
        b++;
    }
    return *a == *b;
}

/* Appends to a bounded buffer; silently truncates (a report is best effort). */
struct buf {
    char data[REPORT_MAX];
    long len;
};

static void put_str(struct buf *b, const char *s)
{
    while (*s && b->len < REPORT_MAX)
        b->data[b->len++] = *s++;
}

static void put_num(struct buf *b, long n)
{
    char digits[24];
    int i = 0;

    if (n < 0) {
        put_str(b, "-");
        n = -n;
    }
    do {
        digits[i++] = (char)('0' + n % 10);
        n /= 10;
    } while (n > 0 && i < (int)sizeof(digits));
    while (i > 0 && b->len < REPORT_MAX)
        b->data[b->len++] = digits[--i];
}

static void put_errno_text(struct buf *b, long err)
{
    const char *text = errno_text(err);

    if (text) {
        put_str(b, text);
        return;
    }
    put_str(b, "Unknown error ");
    put_num(b, err);
}

static void render(struct buf *b, const char *template, long err)
{
    const char *p;
    char one[2] = {0, 0};

    for (p = template; *p; p++) {
        if (p[0] == '%' && p[1] == 'd') {
            put_num(b, err);
            p++;
        } else if (p[0] == '%' && p[1] == 's') {
            put_errno_text(b, err);
            p++;
        } else if (p[0] == '%' && p[1] == '%') {
            put_str(b, "%");
            p++;
        } else {
            one[0] = *p;
            put_str(b, one);
        }
    }
}

static int write_all(int fd, const char *data, long len)
{
    while (len > 0) {
        long n = sys3(SYS_write, fd, (long)data, len);

        if (n <= 0)
            return -1;
        data += n;
        len -= n;
    }
    return 0;
}

/* Decimal fd at *p (advanced past it); -1 if there is none. */
static int parse_fd(const char **p)
{
    long value = 0;
    int digits = 0;

    if (**p == '-' && (*p)[1] == '1') {
        *p += 2;
        return -1;
    }
    while (**p >= '0' && **p <= '9' && digits < 9) {
        value = value * 10 + (**p - '0');
        (*p)++;
        digits++;
    }
    return digits ? (int)value : -1;
}

/* Carried fds must not reach the target: close-on-exec, or closed right away
 * if the filter refuses fcntl (then a failure report goes to stderr). */
static void close_carried_on_exec(const char *list, int *report_fd)
{
    const char *p = list;

    while (*p) {
        int fd = parse_fd(&p);

        if (fd >= 0 && sys3(SYS_fcntl, fd, F_SETFD, FD_CLOEXEC) < 0) {
            sys3(SYS_close, fd, 0, 0);
            if (fd == *report_fd)
                *report_fd = -1;
        }
        if (*p == ',')
            p++;
        else if (*p)
            break; /* malformed: stop rather than guess */
    }
}

static void complain(const char *what)
{
    static const char prefix[] = "ociruntime-dmz: ";

    write_all(STDERR, prefix, sizeof(prefix) - 1);
    write_all(STDERR, what, str_len(what));
    write_all(STDERR, "\n", 1);
}

/* The signals the runtime's waiting init dies from (process/child.py,
 * _FATAL_WHILE_WAITING): as a PID-namespace init with default dispositions it
 * would ignore them, and `kill` of a created container would do nothing. */
static const int FATAL_WHILE_WAITING[] = {1, 2, 3, 10, 12, 14, 15};
static const char INIT_NAME[] = "oci:[2:INIT]";

struct kernel_sigaction {
    void (*handler)(int);
    unsigned long flags;
    void (*restorer)(void);
    unsigned long mask;
};

extern void dmz_sigreturn(void);

static void die_by_signal(int sig)
{
    exit_group(128 + sig);
}

/* {"type": "error", ...} for the runtime's channel (process/channel.py); the
 * texts are ours and errno_text's, none needs JSON escaping. */
static void send_error(int fd, const char *what, long err)
{
    static struct buf record;

    put_str(&record, "{\"type\": \"error\", \"stage\": \"2:INIT\", \"errno\": ");
    put_num(&record, err);
    put_str(&record, ", \"message\": \"2:INIT: ociruntime-dmz: ");
    put_str(&record, what);
    put_str(&record, ": ");
    put_errno_text(&record, err);
    put_str(&record, "\", \"code\": \"kernel.error\"}");
    write_all(fd, record.data, record.len);
}

/* Ready to wait (or an error record sent and exit 1). */
static void prepare_to_wait(int wait_fd, int ready_fd, const char *ready_message)
{
    struct kernel_sigaction action = {die_by_signal, SA_RESTORER, dmz_sigreturn, 0};
    char none;
    unsigned long i;
    long err;

    err = -sys3(SYS_prctl, PR_SET_DUMPABLE, 0, 0);
    if (err > 0) {
        send_error(ready_fd, "prctl(PR_SET_DUMPABLE)", err);
        exit_group(1);
    }
    /* The runtime's name for a waiting init (process/names.py), not "memfd:...": only a
     * name for ps, so a refusal is not worth failing create over. */
    (void)sys3(SYS_prctl, PR_SET_NAME, (long)INIT_NAME, 0);
    for (i = 0; i < sizeof(FATAL_WHILE_WAITING) / sizeof(FATAL_WHILE_WAITING[0]); i++) {
        err = -sys4(SYS_rt_sigaction, FATAL_WHILE_WAITING[i], (long)&action, 0,
                    sizeof(action.mask));
        if (err > 0) {
            send_error(ready_fd, "rt_sigaction", err);
            exit_group(1);
        }
    }
    /* read(2) of nothing: does the filter let us wait at all? */
    err = -sys3(SYS_read, wait_fd, (long)&none, 0);
    if (err > 0) {
        send_error(ready_fd, "read the exec fifo", err);
        exit_group(1);
    }
    if (write_all(ready_fd, ready_message, str_len(ready_message)) < 0) {
        complain("cannot tell the runtime it is ready");
        exit_group(1);
    }
    sys3(SYS_close, ready_fd, 0, 0);
}

/* Blocks until `start` writes its byte into the exec fifo. */
static void wait_for_start(int wait_fd, int report_fd)
{
    static struct buf report;
    char byte;

    for (;;) {
        long n = sys3(SYS_read, wait_fd, (long)&byte, 1);

        if (n == 1)
            return;
        if (n == -EINTR)
            continue;
        put_str(&report, "start: ociruntime-dmz: read the exec fifo: ");
        put_errno_text(&report, n < 0 ? -n : 5); /* 0 (EOF) cannot happen: EIO */
        if (report_fd < 0 || write_all(report_fd, report.data, report.len) < 0)
            complain(report.data);
        exit_group(1);
    }
}

__attribute__((noreturn, used)) void dmz_main(long *sp)
{
    long argc = sp[0];
    char **argv = (char **)(sp + 1);
    char **envp = argv + argc + 1;
    static struct buf report;
    const char *fd_text;
    int report_fd;
    int wait_fd;
    int ready_fd;
    long err;

    if (argc < 9 || !str_eq(argv[0], DMZ_ARGV0)) {
        complain("not started by ociruntime (refusing to exec anything)");
        exit_group(127);
    }
    fd_text = argv[1];
    report_fd = parse_fd(&fd_text);
    fd_text = argv[3];
    wait_fd = parse_fd(&fd_text);
    fd_text = argv[4];
    ready_fd = parse_fd(&fd_text);
    if (wait_fd >= 0) {
        prepare_to_wait(wait_fd, ready_fd, argv[5]);
        wait_for_start(wait_fd, report_fd);
    }
    close_carried_on_exec(argv[2], &report_fd);
    err = -sys3(SYS_execve, (long)argv[7], (long)(argv + 8), (long)envp);
    render(&report, argv[6], err);
    if (report_fd < 0 || write_all(report_fd, report.data, report.len) < 0) {
        write_all(STDERR, report.data, report.len);
        write_all(STDERR, "\n", 1);
    }
    exit_group(err == ENOENT ? 127 : 1);
}
