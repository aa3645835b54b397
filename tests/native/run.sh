#!/usr/bin/env bash
# run.sh - native tests for sandbox-helper, under ASan and UBSan:
#   1. test_spec: unit tests of the spec parser (spec.c), built with gcc
#   2. the whole helper, built with the same flags (only to prove it compiles clean)
#   3. fuzz_spec: libFuzzer on the spec parser for FUZZ_SECONDS (default 20), if a clang
#      with libFuzzer is installed (Debian/Ubuntu: apt-get install clang-14 libclang-rt-14-dev);
#      otherwise the step prints "skipped: no clang with libFuzzer"
# Environment: FUZZ_SECONDS, CLANG (a clang to try first), FUZZ_ARTIFACT_DIR (where
# libFuzzer writes crashing inputs; default: the temporary directory, deleted at exit).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
native=$(cd "$here/../../src/Sandbox/native" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sandbox-native-tests.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

cflags=(-std=gnu11 -D_GNU_SOURCE -g -O1 -Wall -Wextra -Werror
    -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all)
# the warnings helper.targets adds for the real build
helper_warnings=(-Wformat=2 -Wshadow -Wstrict-prototypes -Wmissing-prototypes)

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

say() { printf '\n== %s\n' "$*"; }
run() { printf '+ %s\n' "$*"; "$@"; }

say "1/3 test_spec (gcc, ASan+UBSan)"
run gcc "${cflags[@]}" -I "$native" -o "$tmp/test_spec" "$here/test_spec.c" "$native/spec.c"
run "$tmp/test_spec"

say "2/3 whole helper (gcc, ASan+UBSan, build only)"
helper_sources=()
for f in "$native"/*.c; do
    case "$(basename "$f")" in
    fuzz_*.c | test_*.c) ;; # excluded from the helper, as in helper.targets
    *) helper_sources+=("$f") ;;
    esac
done
run gcc "${cflags[@]}" "${helper_warnings[@]}" -o "$tmp/sandbox-helper" "${helper_sources[@]}"
echo "built $tmp/sandbox-helper from ${#helper_sources[@]} files"

say "3/3 fuzz_spec (clang libFuzzer, ASan+UBSan)"
printf '#include <stddef.h>\n#include <stdint.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n' >"$tmp/probe.c"
clang=""
for cc in ${CLANG:-} clang clang-19 clang-18 clang-17 clang-16 clang-15 clang-14; do
    if command -v "$cc" >/dev/null 2>&1 &&
        "$cc" -fsanitize=fuzzer,address,undefined -o "$tmp/probe" "$tmp/probe.c" >/dev/null 2>&1; then
        clang=$cc
        break
    fi
done
if [ -z "$clang" ]; then
    echo "skipped: no clang with libFuzzer (Debian/Ubuntu: apt-get install clang-14 libclang-rt-14-dev)"
    echo
    echo "native tests passed (fuzzing skipped)"
    exit 0
fi

seconds=${FUZZ_SECONDS:-20}
artifacts=${FUZZ_ARTIFACT_DIR:-$tmp/artifacts}
mkdir -p "$tmp/corpus" "$artifacts"
run "$clang" -std=gnu11 -D_GNU_SOURCE -g -O1 -Wall -Wextra -Werror -fno-omit-frame-pointer \
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
    -I "$native" -o "$tmp/fuzz_spec" "$here/fuzz_spec.c" "$native/spec.c"
run "$tmp/test_spec" --write-corpus "$tmp/corpus"
echo "seed corpus: $(ls "$tmp/corpus" | wc -l) specs"
status=0
run "$tmp/fuzz_spec" -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix="$artifacts/" \
    "$tmp/corpus" >"$tmp/fuzz.log" 2>&1 || status=$?
if [ "$status" -ne 0 ]; then
    # the report starts at the sanitizer's or libFuzzer's first error line
    first=$(grep -n -m1 -E '==[0-9]+==.*ERROR|runtime error|deadly signal' "$tmp/fuzz.log" | cut -d: -f1 || true)
    tail -n +"${first:-1}" "$tmp/fuzz.log" | tail -n 80
    for f in "$artifacts"/*; do
        [ -f "$f" ] || continue
        echo "crashing input $f:"
        od -An -tx1 -v "$f"
    done
    [ -n "${FUZZ_ARTIFACT_DIR:-}" ] || echo "(set FUZZ_ARTIFACT_DIR to keep the crashing inputs; reproduce with: fuzz_spec FILE)"
    echo "fuzz_spec FAILED (exit $status)"
    exit 1
fi
grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss_mb)' "$tmp/fuzz.log" || true
echo "fuzz_spec: no crash in ${seconds}s"
echo
echo "native tests passed"
