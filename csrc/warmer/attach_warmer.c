/* attach_warmer.c: ociruntime-attach-warmer, which keeps the kernel's cgroup-attach fast
 * path open while `create` or `exec` does its Python work (ociruntime/cgroups/warmup.py).
 *
 * A write to cgroup.procs takes the global cgroup_threadgroup_rwsem for writing; when no
 * attach happened within about one RCU grace period, that write first waits for a grace
 * period (rcu_sync_enter), holding cgroup_mutex meanwhile. Writing "0" (this process) to
 * the procs file of the cgroup it is already in is a migration that moves nothing; doing it
 * every few milliseconds from the moment the runtime knows its verb lets the grace period
 * pass in the background, so the runtime's own cgroup mkdirs and attaches do not wait.
 *
 * argv: [argv0, procs_file]. Runs until stdin (a pipe from the runtime) reports EOF or an
 * error, or until the runtime kills it. Exit status: 0 at EOF, 1 when procs_file cannot be
 * opened, 2 when a write fails, 3 when waiting on stdin fails, 64 on a usage error. It
 * prints nothing: the runtime treats any failure as "no warm-up", never as its own. */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#define INTERVAL_MS 3 /* well inside one grace period, so the fast window never closes */

enum { EXIT_EOF = 0, EXIT_OPEN = 1, EXIT_WRITE = 2, EXIT_WAIT = 3, EXIT_USAGE = 64 };

/* The no-op migration; returns 0 or -errno. */
static int migrate_to_own_cgroup(int procs_fd)
{
    if (write(procs_fd, "0", 1) != 1)
        return -errno;
    return 0;
}

/* Sleeps INTERVAL_MS unless stdin has news: returns 0 to go on, 1 at EOF or hangup
 * (the runtime is done or gone), -errno on failure. */
static int wait_interval(void)
{
    struct pollfd runtime = {.fd = STDIN_FILENO, .events = POLLIN};
    int ready = poll(&runtime, 1, INTERVAL_MS);

    if (ready < 0)
        return errno == EINTR ? 0 : -errno;
    return ready > 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
    int procs_fd;
    int waited;

    if (argc != 2)
        return EXIT_USAGE;
    procs_fd = open(argv[1], O_WRONLY | O_CLOEXEC);
    if (procs_fd < 0)
        return EXIT_OPEN;
    for (;;) {
        if (migrate_to_own_cgroup(procs_fd) < 0)
            return EXIT_WRITE;
        waited = wait_interval();
        if (waited < 0)
            return EXIT_WAIT;
        if (waited > 0)
            return EXIT_EOF;
    }
}
