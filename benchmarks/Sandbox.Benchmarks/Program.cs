using BenchmarkDotNet.Running;
using Sandboxing.Benchmarks;

// Run through benchmarks/run.sh or benchmarks/report.sh, which add a filter, a short job and
// the artifacts path. Two modes without BenchmarkDotNet: `profile` (one scenario in a loop, to
// trace or to time a helper variant) and `footprint` (memory, fds and threads per running
// sandbox, from 1 to 1000 at once).
if (args.Length > 0 && args[0] == "profile")
    return await Profile.RunAsync(args[1..]);
if (args.Length > 0 && args[0] == "footprint")
    return await Footprint.RunAsync(args[1..]);

var summaries = BenchmarkSwitcher.FromAssembly(typeof(Scenarios).Assembly).Run(args);

// BenchmarkDotNet reports a benchmark that threw and carries on; fail the run instead, so
// the scripts never write a table with holes in it.
return summaries.Any(s => s.HasCriticalValidationErrors || s.Reports.Any(r => !r.Success)) ? 1 : 0;
