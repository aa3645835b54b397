using BenchmarkDotNet.Running;

// Run through benchmarks/run.sh, which adds a filter, a short job and the artifacts path.
var summaries = BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);

// BenchmarkDotNet reports a benchmark that threw and carries on; fail the run instead, so
// run.sh never writes a table with holes in it.
return summaries.Any(s => s.HasCriticalValidationErrors || s.Reports.Any(r => !r.Success)) ? 1 : 0;
