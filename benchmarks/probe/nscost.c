/* nscost.c - what clone3() costs with each namespace flag, on this kernel and machine.
 *
 * For each flag set: RUNS times, clone3 a child that exits at once, and wait for it. The
 * time per iteration covers creating the namespaces and the synchronous part of tearing them
 * down; a network namespace's teardown runs later in a kernel worker (cleanup_net), so its
 * full cost shows up as CPU time elsewhere, not here. Prints a markdown table row per flag set
 * with the median and mean in microseconds, and the median minus the plain clone's.
 * Run as root (or with unprivileged user namespaces, only the rows with CLONE_NEWUSER work).
 *   cc -O2 -o nscost nscost.c && ./nscost [RUNS] */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median time of one clone3 + exit + wait with these flags, or -1 with errno set. */
static double measure(uint64_t flags, int unshare_time, int runs, double *mean)
{
    double *t = calloc((size_t)runs, sizeof *t);
    double sum = 0;
    for (int i = 0; i < runs; i++) {
        struct clone_args args = {.flags = flags, .exit_signal = SIGCHLD};
        double start = now_us();
        long pid = syscall(SYS_clone3, &args, sizeof args);
        if (pid < 0) {
            free(t);
            return -1;
        }
        if (pid == 0)
            _exit(unshare_time && unshare(CLONE_NEWTIME) != 0 ? 1 : 0);
        int status;
        if (waitpid((pid_t)pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            free(t);
            errno = ECHILD;
            return -1;
        }
        t[i] = now_us() - start;
        sum += t[i];
    }
    qsort(t, (size_t)runs, sizeof *t, cmp);
    double median = t[runs / 2];
    *mean = sum / runs;
    free(t);
    return median;
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 500;
    const uint64_t all = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWCGROUP;
    struct {
        const char *name;
        uint64_t flags;
        int unshare_time;
    } rows[] = {
        {"none (a plain fork)", 0, 0},
        {"CLONE_NEWUSER", CLONE_NEWUSER, 0},
        {"CLONE_NEWNS", CLONE_NEWNS, 0},
        {"CLONE_NEWPID", CLONE_NEWPID, 0},
        {"CLONE_NEWNET", CLONE_NEWNET, 0},
        {"CLONE_NEWUTS", CLONE_NEWUTS, 0},
        {"CLONE_NEWIPC", CLONE_NEWIPC, 0},
        {"CLONE_NEWCGROUP", CLONE_NEWCGROUP, 0},
        {"unshare(CLONE_NEWTIME) in the child", 0, 1},
        {"all of the above but NEWNET", all & ~(uint64_t)CLONE_NEWNET, 1},
        {"all of the above", all, 1},
    };
    double base = 0;
    printf("| clone3 flags | median (us) | mean (us) | median - plain fork (us) |\n|---|---:|---:|---:|\n");
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        double mean, ignored;
        measure(rows[i].flags, rows[i].unshare_time, runs / 10 + 1, &ignored); /* warm-up */
        double median = measure(rows[i].flags, rows[i].unshare_time, runs, &mean);
        if (median < 0) {
            printf("| %s | failed: %s | | |\n", rows[i].name, strerror(errno));
            continue;
        }
        if (i == 0)
            base = median;
        printf("| %s | %.0f | %.0f | %+.0f |\n", rows[i].name, median, mean, median - base);
    }
    return 0;
}
