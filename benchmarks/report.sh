#!/usr/bin/env bash
# One command for the whole benchmark report: installs bubblewrap, runc, strace and perf from
# the distribution if they are missing, runs the BenchmarkDotNet set (run.sh, which also writes
# benchmarks/results.md), the footprint measurement, and the start-path profile, and writes
# docs/benchmarks.md. About 10 minutes on 2 cores. Run as root, on Debian or Ubuntu:
#   bash benchmarks/report.sh            # everything
#   bash benchmarks/report.sh --reuse    # keeps benchmarks/results.md from the last run.sh
# Other work on the machine skews every number: the load average before and after is recorded.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
project=$here/Sandbox.Benchmarks
out=$repo/docs/benchmarks.md
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

if [ "$(id -u)" != 0 ]; then
    echo "report.sh runs as root: the comparison runs runc and creates cgroups." >&2
    exit 1
fi
missing=()
command -v bwrap >/dev/null || missing+=(bubblewrap)
command -v runc >/dev/null || missing+=(runc)
command -v strace >/dev/null || missing+=(strace)
command -v perf >/dev/null || missing+=(linux-perf)
command -v cc >/dev/null || missing+=(gcc libc6-dev)
command -v musl-gcc >/dev/null || missing+=(musl-tools)
[ -x /bin/busybox ] || missing+=(busybox-static)
if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

start=$SECONDS
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
tmp=$(mktemp -d /tmp/sandbox-bench-report.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# 1. BenchmarkDotNet: start to exit, and throughput (builds the project in Release).
#    --reuse keeps the last run.sh results (benchmarks/results.md) and only redoes the rest.
if [ "${1:-}" = --reuse ]; then
    dotnet build "$project" -c Release -nologo -v q
else
    bash "$here/run.sh"
fi
dll=$project/bin/Release/net10.0/Sandbox.Benchmarks.dll
helper=$project/bin/Release/net10.0/sandbox-helper
bench() { dotnet "$dll" "$@"; }

# 2. Footprint: 1 to 1000 sandboxes at once, each with a sleeping busybox.
bench footprint --counts "${FOOTPRINT_COUNTS:-1,10,100,1000}" --out "$tmp/footprint.md" >/dev/null

# 3. The start path. Probes: what clone3 costs per namespace flag, and a stand-in helper that
#    does nothing (the .NET side's floor). The helper as built is linked against musl (-static);
#    the same sources linked -static-pie against glibc, the fallback build without musl-gcc,
#    show what the C library's start-up and the self-relocation cost.
cc -O2 -Wall -Wextra -o "$tmp/nscost" "$here/probe/nscost.c"
cc -O2 -Wall -Wextra -static -o "$tmp/null-helper" "$here/probe/null-helper.c"
mapfile -t sources < <(ls "$repo"/src/Sandbox/native/*.c | grep -v -E '/(fuzz|test)_')
cflags=(-std=gnu11 -D_GNU_SOURCE -O2 -Wall -Wextra -fstack-protector-strong -D_FORTIFY_SOURCE=2 -Wl,-z,relro,-z,now)
cc "${cflags[@]}" -static-pie -fPIE -o "$tmp/helper-static" "${sources[@]}"

profile() { # NAME HELPER LABEL: one line of the variant table
    local line
    line=$(SANDBOX_HELPER_PATH=$2 bench profile "$1" 200 20)
    echo "$line" | sed -E "s/^[^:]+: ([0-9]+) runs, mean ([0-9.]+) ms, median ([0-9.]+) ms, p90 ([0-9.]+) ms, min ([0-9.]+) ms$/| $3 | \3 | \2 | \4 |/"
}
{
    echo "| Variant | median (ms) | mean (ms) | p90 (ms) |"
    echo "|---|---:|---:|---:|"
    profile process "$helper" "Process.Start of busybox true (baseline)"
    profile user "$tmp/null-helper" "null helper, user-namespace-only configuration: the .NET side and one posix_spawn"
    profile full "$tmp/null-helper" "null helper, full isolation configuration: the same plus the cgroup created and removed in C#"
    profile cgroup "$helper" "the full isolation cgroup alone, created and removed through Sandbox.Cgroups"
    profile user "$helper" "sandbox-helper as built (musl, -static), user namespace only"
    profile user "$tmp/helper-static" "sandbox-helper linked -static-pie against glibc, user namespace only"
    profile full "$helper" "sandbox-helper as built (musl, -static), full isolation"
    profile full "$tmp/helper-static" "sandbox-helper linked -static-pie against glibc, full isolation"
} >"$tmp/variants.md"
"$tmp/nscost" 300 >"$tmp/nscost.md"

# strace -f -c on the helper (and everything it starts) for 50 full-isolation runs, summed.
cat >"$tmp/strace-helper" <<EOF
#!/bin/sh
exec strace -f -c -o "$tmp/strace.\$\$" "$helper"
EOF
chmod +x "$tmp/strace-helper"
SANDBOX_HELPER_PATH=$tmp/strace-helper bench profile full 50 5 >/dev/null
# Calls that wait for another process (the helper for init, init for the command, poll and
# reads on channels) are left out: their time is the others' work, counted where it happens.
awk '$1 ~ /^[0-9.]+$/ && NF >= 5 && $NF !~ /^(total|waitid|wait4|poll|ppoll|read|recvfrom|recvmsg)$/ {
        name = $NF; secs[name] += $2; calls[name] += $4; if (NF == 6) errs[name] += $5
    }
    END { for (n in secs) printf "%s %.6f %d %d\n", n, secs[n], calls[n], errs[n] }' "$tmp"/strace.* |
    sort -k2,2 -gr | awk 'NR <= 15' |
    awk -v runs="$(ls "$tmp"/strace.* | wc -l)" 'BEGIN { print "| syscall | system time per run (us) | calls per run | failed per run |"; print "|---|---:|---:|---:|" }
        { printf "| %s | %.0f | %.1f | %.1f |\n", $1, $2 * 1e6 / runs, $3 / runs, $4 / runs }' >"$tmp/strace.md"

# perf: where the CPU goes, by process, over 300 full-isolation runs.
perf_ok=1
perf record -q -o "$tmp/perf.data" -g -- dotnet "$dll" profile full 300 30 >/dev/null 2>"$tmp/perf.err" || perf_ok=0
if [ $perf_ok = 1 ]; then
    perf report -q -i "$tmp/perf.data" --no-children --sort comm --stdio -g none 2>/dev/null |
        awk 'NF >= 2 && $1 ~ /%$/ { pct = $1; $1 = ""; sub(/^ /, ""); printf "| %s | %s |\n", $0, pct }' | awk 'NR <= 10' >"$tmp/perf-comm.md"
    perf report -q -i "$tmp/perf.data" --no-children --comm sandbox-helper --sort sym --stdio -g none 2>/dev/null |
        awk 'NF >= 3 && $1 ~ /%$/ { pct = $1; $1 = ""; sub(/^ /, ""); printf "| `%s` | %s |\n", $0, pct }' | awk 'NR <= 15' >"$tmp/perf-helper.md"
fi
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# Means in ms from run.sh's tables (BenchmarkDotNet prints ns, μs, ms or s).
mean() { # TABLE-HEADING METHOD [PARAM]: the Mean of that row, in ms
    awk -F'|' -v sec="## $1" -v m="$2" -v p="${3:-}" '
        function trim(s) { gsub(/^ +| +$/, "", s); return s }
        $0 == sec { on = 1; next } /^## / { on = 0 }
        on && /^\|/ {
            if (!cols) { for (i = 2; i < NF; i++) col[trim($i)] = i; cols = 1; next }
            if (trim($2) != m || (p != "" && trim($(col["Concurrency"])) != p)) next
            split(trim($(col["Mean"])), v, " "); gsub(/,/, "", v[1])
            f = v[2] == "ns" ? 1e-6 : v[2] == "s" ? 1000 : v[2] == "ms" ? 1 : 1e-3
            printf "%.3f\n", v[1] * f; exit
        }' "$here/results.md"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "n/a"; else printf "%.2f", a / b }'; }
verdict() { awk -v v="$1" -v op="$2" -v t="$3" 'BEGIN { if (v == "n/a") print "not measured"; else if ((op == "<=" && v + 0 <= t) || (op == ">=" && v + 0 >= t)) print "met"; else print "**not met**" }'; }

t_process=$(mean StartToExitBenchmarks ProcessStart)
t_full=$(mean StartToExitBenchmarks FullIsolation)
t_bwrap=$(mean StartToExitBenchmarks Bubblewrap)
t_bwrap_cg=$(mean StartToExitBenchmarks BubblewrapWithCgroup)
t_runc=$(mean StartToExitBenchmarks Runc)
r_full=$(ratio "$t_full" "$t_process")
r_bwrap=$(ratio "$t_bwrap" "$t_full")
r_bwrap_cg=$(ratio "$t_bwrap_cg" "$t_full")
r_runc=$(ratio "$t_runc" "$t_full")
# The footprint row at the largest count: Rss, Pss, private (KiB) and the thread growth.
last=$(grep -E '^\| [0-9]+ \|' "$tmp/footprint.md" | tail -1)
fp_count=$(echo "$last" | awk -F'|' '{ gsub(/ /, "", $2); print $2 }')
fp_rss=$(echo "$last" | awk -F'|' '{ gsub(/[ ,]|KiB/, "", $4); print $4 }')
fp_pss=$(echo "$last" | awk -F'|' '{ gsub(/[ ,]|KiB/, "", $5); print $5 }')
fp_priv=$(echo "$last" | awk -F'|' '{ gsub(/[ ,]|KiB/, "", $6); print $6 }')
fp_threads=$(echo "$last" | awk -F'|' '{ print $12 }' | sed -E 's/.*\(([-+0-9]+)\).*/\1/')

throughput() { # the throughput table with sandboxes (runs) completed per second added
    awk -F'|' '
        function trim(s) { gsub(/^ +| +$/, "", s); return s }
        /^## ThroughputBenchmarks/ { on = 1; next } /^## / { on = 0 }
        on && /^\|/ {
            n++
            if (n == 1) { print $0 " Runs per second |"; next }
            if (n == 2) { print $0 "---:|"; next }
            split(trim($4), v, " "); gsub(/,/, "", v[1])
            f = v[2] == "ns" ? 1e-6 : v[2] == "s" ? 1000 : v[2] == "ms" ? 1 : 1e-3
            printf "%s %.0f |\n", $0, 1000 / (v[1] * f)
        }' "$here/results.md"
}
startup() { awk '/^## StartToExitBenchmarks/ { on = 1; next } /^## / { on = 0 } on && /^\|/' "$here/results.md"; }
job=$(sed -n 's/^- Job: //p' "$here/results.md")
runtime=$(dotnet --list-runtimes | awk '$1 == "Microsoft.NETCore.App" { v = $2 } END { print v }')

cat >"$out" <<EOF
# Benchmarks

How long a sandbox takes to start and end, how many complete per second, and what a running
sandbox costs, measured against \`System.Diagnostics.Process\`, bubblewrap and runc on the same
machine in the same run. Everything here is written by \`bash benchmarks/report.sh\` (as root);
the numbers are this run's, not edited by hand.

- Date: $(date -u '+%Y-%m-%d %H:%M UTC')
- Machine: $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), $(nproc) cores, $(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM
- Kernel: $(uname -r); cgroups: $(if [ -d /sys/fs/cgroup/unified ]; then echo hybrid; elif [ -f /sys/fs/cgroup/cgroup.controllers ]; then echo v2; else echo v1; fi)
- .NET: runtime $runtime, SDK $(dotnet --version); $(bwrap --version); runc $(runc --version | awk 'NR == 1 { print $3 }')
- Load average before the run: $load_before; after: $load_after. The machine is shared: other
  work running at the same time makes every number here noisier and slower, the processes that
  fork and exec most the most.
- BenchmarkDotNet job: $job
- Took $((SECONDS - start)) s

## Targets

| Target | Measured | |
|---|---|---|
| Full isolation <= 1.5x \`Process.Start\` | ${r_full}x (${t_full} ms against ${t_process} ms) | $(verdict "$r_full" "<=" 1.5) |
| >= 2x faster than bubblewrap, same isolation | bubblewrap with the cgroup takes ${r_bwrap_cg}x as long (${t_bwrap_cg} ms); without any cgroup ${r_bwrap}x (${t_bwrap} ms) | $(verdict "$r_bwrap_cg" ">=" 2) |
| >= 10x faster than runc, same isolation | runc takes ${r_runc}x as long (${t_runc} ms) | $(verdict "$r_runc" ">=" 10) |
| <= 256 KiB Rss outside .NET per idle sandbox | helper + init at ${fp_count} sandboxes: Rss ${fp_rss} KiB, Pss ${fp_pss} KiB, private ${fp_priv} KiB | Rss $(verdict "$fp_rss" "<=" 256); Pss $(verdict "$fp_pss" "<=" 256) |
| No thread per sandbox | ${fp_threads} threads in the .NET process with ${fp_count} sandboxes running | $(verdict "$fp_threads" "<=" 8) |

**Full isolation** means, for all three: every namespace (user, pid, mount, network, uts, ipc,
cgroup; the sandbox also has a time namespace), \`pivot_root\` into the same busybox root
filesystem, read-only, with a fresh \`/proc\`, the command as the host's \`nobody\` (runc: a
mapped id) with no capabilities, and a cgroup limiting memory to 64 MiB and pids to 64. The
sandbox also installs its default seccomp filter and masks docker's \`/proc\` paths; neither
bubblewrap nor runc does here (runc masks its own list). bubblewrap has no cgroup support:
\`BubblewrapWithCgroup\` creates the same cgroup through \`Sandbox.Cgroups\` and starts bwrap from a
\`busybox sh\` that joins it, which is what a bubblewrap user pays for limits; \`Bubblewrap\` is
bwrap alone, without limits. runc runs \`runc run\` on an OCI bundle of the same rootfs (its own
\`/dev\` tmpfs, which runc needs for its device nodes), as \`Sandbox.Benchmarks/Scenarios.cs\`
builds it.

## Start to exit

One \`/bin/busybox true\` (static) from start to exit, including the wait for every process of
the sandbox to end and the cgroup to be removed. Ratio is to \`ProcessStart\`.

| Row | What runs |
|---|---|
| ProcessStart | \`System.Diagnostics.Process\`, no sandbox: the baseline |
| UserNamespaceOnly | a user namespace only, no mounts |
| AllButNetwork | the default sandbox without its network namespace |
| AllNamespaces | the default sandbox: every namespace, the host's root read-only, /proc, /sys, /dev, /tmp, masked paths, seccomp |
| AllNamespacesWithoutSeccomp | the same without the seccomp filter |
| Rootfs | every namespace, \`pivot_root\` into the busybox rootfs with only /proc |
| OverlayRoot | every namespace, the rootfs as an overlay's single layer, the default mounts |
| FullIsolation | Rootfs plus a cgroup with memory and pids limits |
| FullIsolationWithoutSeccomp | the same without the seccomp filter |
| Bubblewrap, BubblewrapWithCgroup, Runc | full isolation through bwrap and runc, as above |

$(startup)

## Throughput

Runs of \`true\` with full isolation, \`Concurrency\` at a time, 64 per invocation. The mean is
per run; its inverse is the number of sandboxes completed per second.

$(throughput)

## Footprint

Sandboxes with full isolation, each running \`busybox sleep\`, started 16 at a time up to each
count and measured while they all run. "Helper + init" is what the library adds outside .NET:
the \`sandbox-helper\` supervisor and the sandbox's init, summed over every sandbox from
\`/proc/PID/smaps_rollup\` and divided by the count. Rss counts every page mapped, shared ones
(the C library, the helper's own text) in full in each process; Pss divides shared pages among
the processes that map them; private pages belong to that process alone. The .NET columns are
the growth of the benchmark process since before the first sandbox; managed bytes are measured
with \`GC.GetTotalAllocatedBytes\` (allocated per start) and \`GC.GetTotalMemory(true)\` (still
held per running sandbox). Kernel memory is the host-wide growth of Slab, KernelStack and
PageTables, so other work on the machine adds noise to it.

$(cat "$tmp/footprint.md")

## What the time goes to

### Variants of the start path

Medians of 200 runs each (after 20 warm-up runs), in the order shown, by
\`Sandbox.Benchmarks profile\`. The null helper (\`benchmarks/probe/null-helper.c\`) is started like
the real one but only reports that the command started and exited: it is the floor of the .NET
side (configuration, spec, memfd, socket pair, \`posix_spawn\`, the reactor, reaping). The helper
as built is linked statically against musl (\`musl-gcc -static\`); the glibc rows are the same
sources linked \`-static-pie\` against glibc, the build used where musl-gcc is not installed.

$(cat "$tmp/variants.md")

### clone3 with each namespace flag

\`benchmarks/probe/nscost.c\`: clone3 of a child that exits at once, waited for, 300 times per
row. A network namespace is torn down later by a kernel worker, so part of its cost is not in
its row but in CPU taken from whatever runs next.

$(cat "$tmp/nscost.md")

### System calls of the helper, init and command

\`strace -f -c\` on \`sandbox-helper\` (through \`SANDBOX_HELPER_PATH\`) over 50 full-isolation runs
(55 helper starts with the warm-up; the figures are per helper start), the 15 calls with the most system time, per run, leaving out the calls that wait for another
process (\`waitid\`, \`wait4\`, \`poll\`, \`read\`, \`recvfrom\`, \`recvmsg\`). strace slows every
call down, so these are relative weights, not wall-clock costs.

$(cat "$tmp/strace.md")

### CPU by process

$(if [ $perf_ok = 1 ]; then
    echo "\`perf record -g\` over 300 full-isolation runs of \`Sandbox.Benchmarks profile\` (the .NET process and"
    echo "everything it starts): share of CPU samples by process name, then the symbols with the most"
    echo "samples inside \`sandbox-helper\` processes (the helper and init; the command is \`busybox\`), as"
    echo "shares of all samples."
    echo
    echo "| Process | Samples |"
    echo "|---|---:|"
    cat "$tmp/perf-comm.md"
    echo
    echo "| Symbol in sandbox-helper | Samples |"
    echo "|---|---:|"
    cat "$tmp/perf-helper.md"
else
    echo "perf did not run on this machine: $(head -c 300 "$tmp/perf.err")"
fi)

$(cat "$here/analysis.md")
EOF
echo "wrote $out ($((SECONDS - start)) s)"
