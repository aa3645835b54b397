#!/usr/bin/env bash
# Builds the benchmarks in Release, runs them, and writes benchmarks/results.md.
#   bash benchmarks/run.sh                                  # everything, short job (about 5 minutes on 2 cores)
#   bash benchmarks/run.sh --filter '*StartToExit*'         # extra arguments go to BenchmarkDotNet
#   bash benchmarks/run.sh --job default                    # BenchmarkDotNet's full-length job
# Run as root: the benchmarks create sandboxes with every namespace.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
project=$here/Sandbox.Benchmarks
artifacts=$here/BenchmarkDotNet.Artifacts
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

args=("$@")
# Without a filter BenchmarkDotNet asks which benchmarks to run. Without a job it runs its
# default one, far longer than comparing milliseconds needs; ShortRun alone (3 iterations)
# gives an Error (99.9% interval, t with 2 degrees of freedom) larger than the mean, so
# the default here is ShortRun with 10 iterations.
case " $* " in *" --filter"* | *" -f "*) ;; *) args+=(--filter '*') ;; esac
case " $* " in *" --job"* | *" -j "*) ;; *) args+=(--job short --iterationCount 10) ;; esac

start=$SECONDS
load=$(cut -d' ' -f1-3 /proc/loadavg)  # other work on the machine skews every number
dotnet build "$project" -c Release -nologo -v q
rm -rf "$artifacts/results"  # so that only this run's reports are summarised below
dotnet "$project/bin/Release/net10.0/Sandbox.Benchmarks.dll" --artifacts "$artifacts" "${args[@]}"

# One GitHub-markdown report reduced to Method, any [Params] columns (they sit between
# Method and Mean), Mean, Error, Ratio and Allocated, without the bold markup and blank
# rows BenchmarkDotNet uses to separate groups.
table() {
    awk -F'|' '
        function trim(s) { gsub(/\*\*/, "", s); gsub(/^ +| +$/, "", s); return s }
        /^\|/ && !n {
            for (i = 2; i < NF; i++) {
                name = trim($i)
                if (name == "Mean") params = 0
                if (name ~ /^(Method|Mean|Error|Ratio|Allocated)$/ || params) {
                    cols[++n] = i; head = head " " name " |"
                    rule = rule (name == "Method" || params ? "---" : "---:") "|"
                }
                if (name == "Method") params = 1
            }
            print "|" head; print "|" rule; next
        }
        /^\|/ && $0 !~ /^\|[-: |]+$/ && trim($2) != "" {
            row = "|"
            for (k = 1; k <= n; k++) row = row " " trim($(cols[k])) " |"
            print row
        }' "$1"
}

reports=("$artifacts"/results/*-report-github.md)
runtime=$(dotnet --list-runtimes | awk '$1 == "Microsoft.NETCore.App" { v = $2 } END { print v }')
{
    echo "# Sandbox benchmarks"
    echo
    echo "Start to exit of \`/bin/busybox true\` (a static binary), as a plain process and in"
    echo "sandboxes; \`Sandbox.Benchmarks/Benchmarks.cs\` says what each row runs. Ratio is to"
    echo "\`ProcessStart\` (\`System.Diagnostics.Process\`). Throughput means are per run, with"
    echo "\`Concurrency\` runs in flight at once."
    echo
    echo "- Date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "- Kernel: $(uname -r)"
    echo "- CPU: $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), $(nproc) cores"
    echo "- Load average before the run: $load"
    echo "- .NET: runtime $runtime, SDK $(dotnet --version)"
    # The job's settings are the last paragraph of the report's code block, wrapped.
    echo "- Job: $(awk 'NR > 1 && /^```/ { print p; exit } !NF { fresh = 1; next } fresh { p = ""; fresh = 0 } { p = p $0 " " }' "${reports[0]}" | tr -s ' ' | sed 's/ $//')"
    echo "- Command: \`bash benchmarks/run.sh${*:+ $*}\`"
    for report in "${reports[@]}"; do
        name=$(basename "$report" -report-github.md)
        echo
        echo "## ${name##*.}"
        echo
        table "$report"
    done
} >"$here/results.md"
echo "wrote $here/results.md ($((SECONDS - start)) s)"
