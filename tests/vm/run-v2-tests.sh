#!/bin/bash
# Runs the real cgroup v2 tests (xunit trait Category=RealCgroupV2 in tests/Sandbox.Cgroups.Tests,
# and the sandbox-level resource tests of tests/Sandbox.Tests: limits through clone3
# CLONE_INTO_CGROUP, OOM verdicts, pids limit, pause/resume) inside a QEMU guest with a pure cgroup v2 kernel (/work/shared/vm-cgroup2, see its README).
# This host is hybrid, so there those tests pass without doing anything; in the guest
# SANDBOX_REQUIRE_CGROUP2=1 makes "could not run" a failure.
#
# The test project is built here on the host (the guest sees the host's / read-only, with a RAM
# overlay, live: not a snapshot), and its output copied aside so that a rebuild on the host while
# the guest runs cannot swap assemblies under it; the guest runs that copy with `dotnet test
# <dll>`. Expect about two minutes: the guest is software-emulated (dotnet test ~ 50 s there).
#   usage: tests/vm/run-v2-tests.sh        env: VM_DIR, IO_DIR, TIMEOUT (900), SKIP_BUILD=1
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
VM_DIR=${VM_DIR:-/work/shared/vm-cgroup2}
IO_DIR=${IO_DIR:-/tmp/sandbox-v2-tests-io}
export TIMEOUT=${TIMEOUT:-900}

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  dotnet build "$REPO/tests/Sandbox.Cgroups.Tests" -v quiet -nologo
  dotnet build "$REPO/tests/Sandbox.Tests" -v quiet -nologo
fi

mkdir -p "$IO_DIR"
BIN=$(mktemp -d /tmp/run-v2-tests-bin.XXXXXX)
SBIN=$(mktemp -d /tmp/run-v2-sandbox-tests-bin.XXXXXX)
GUEST_SCRIPT=$(mktemp /tmp/run-v2-tests-guest.XXXXXX.sh)
trap 'rm -rf "$GUEST_SCRIPT" "$BIN" "$SBIN"' EXIT
CONFIG=${CONFIG:-Debug}
cp -a "$REPO/tests/Sandbox.Cgroups.Tests/bin/$CONFIG/net10.0/." "$BIN/"
cp -a "$REPO/tests/Sandbox.Tests/bin/$CONFIG/net10.0/." "$SBIN/"
cat > "$GUEST_SCRIPT" <<GUEST
set -u
export HOME=/root DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
export VSTEST_CONNECTION_TIMEOUT=300 SANDBOX_REQUIRE_CGROUP2=1
echo "guest: kernel \$(uname -r), cgroup \$(cat /proc/self/cgroup), root controllers [\$(cat /sys/fs/cgroup/cgroup.subtree_control)]"
cd /tmp
start=\$(date +%s)
dotnet test "$BIN/Sandbox.Cgroups.Tests.dll" --filter "Category=RealCgroupV2" \
  --logger "console;verbosity=detailed" --results-directory /tmp/v2-test-results
rc=\$?
# The CPU-share test measures time, which software emulation distorts: it runs on the host only.
dotnet test "$SBIN/Sandbox.Tests.dll" --filter "FullyQualifiedName~ResourceTests&FullyQualifiedName!~cpu_limit" \
  --logger "console;verbosity=normal" --results-directory /tmp/v2-test-results
rc2=\$?
[ \$rc -eq 0 ] && rc=\$rc2
echo "guest: dotnet test exit \$rc after \$(( \$(date +%s) - start )) s"
echo "guest: cgroups left at the root: \$(ls -d /sys/fs/cgroup/sandbox-* 2>/dev/null | tr '\n' ' ')"
exit \$rc
GUEST

rc=0
"$VM_DIR/run.sh" "$GUEST_SCRIPT" "$IO_DIR" || rc=$?
echo "===== guest output ($IO_DIR/out) ====="
cat "$IO_DIR/out" 2>/dev/null || echo "(none)"
echo "===== exit $rc ====="
exit "$rc"
