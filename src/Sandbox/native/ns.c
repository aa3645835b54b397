/* ns.c - hostname, loopback and clock offsets: the namespaces that need one step each. */
#include "ns.h"

#include "kernel.h"
#include "protocol.h"
#include "report.h"

#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

unsigned long ns_clone_flags(uint32_t namespaces)
{
    unsigned long flags = 0;
    if (namespaces & SBX_NS_USER)
        flags |= CLONE_NEWUSER;
    if (namespaces & SBX_NS_PID)
        flags |= CLONE_NEWPID;
    if (namespaces & SBX_NS_MOUNT)
        flags |= CLONE_NEWNS;
    if (namespaces & SBX_NS_NET)
        flags |= CLONE_NEWNET;
    if (namespaces & SBX_NS_UTS)
        flags |= CLONE_NEWUTS;
    if (namespaces & SBX_NS_IPC)
        flags |= CLONE_NEWIPC;
    if (namespaces & SBX_NS_CGROUP)
        flags |= CLONE_NEWCGROUP;
    return flags;
}

void ns_set_hostname(const char *hostname)
{
    if (sethostname(hostname, strlen(hostname)) != 0)
        die(SBX_STEP_HOSTNAME, errno, "%s", hostname);
}

void ns_bring_up_loopback(void)
{
    /* A new network namespace has lo, but down; most programs expect 127.0.0.1 to work. */
    cleanup_fd int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die(SBX_STEP_LOOPBACK, errno, "socket(AF_INET)");
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    strcpy(ifr.ifr_name, "lo");
    if (ioctl(fd, SIOCGIFFLAGS, &ifr) != 0)
        die(SBX_STEP_LOOPBACK, errno, "SIOCGIFFLAGS lo");
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    if (ioctl(fd, SIOCSIFFLAGS, &ifr) != 0)
        die(SBX_STEP_LOOPBACK, errno, "SIOCSIFFLAGS lo");
}

/* timens_offsets wants seconds plus a non-negative nanosecond part. */
static void split_ns(int64_t ns, long long *sec, long *nsec)
{
    *sec = ns / 1000000000;
    *nsec = (long)(ns % 1000000000);
    if (*nsec < 0) {
        *nsec += 1000000000;
        (*sec)--;
    }
}

void ns_enter_time_namespace(const struct sbx_spec *spec)
{
    if (unshare(SBX_CLONE_NEWTIME) != 0)
        die(SBX_STEP_TIME_NAMESPACE, errno, "unshare(CLONE_NEWTIME)");
    if (!spec->has_time_offsets || (spec->monotonic_offset_ns == 0 && spec->boottime_offset_ns == 0))
        return;
    long long msec, bsec;
    long mnsec, bnsec;
    split_ns(spec->monotonic_offset_ns, &msec, &mnsec);
    split_ns(spec->boottime_offset_ns, &bsec, &bnsec);
    char offsets[128];
    snprintf(offsets, sizeof offsets, "monotonic %lld %ld\nboottime %lld %ld\n", msec, mnsec, bsec, bnsec);
    if (write_file("/proc/self/timens_offsets", offsets) != 0)
        die(SBX_STEP_TIME_NAMESPACE, errno, "/proc/self/timens_offsets: %s", offsets);
}
