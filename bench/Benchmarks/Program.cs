using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using CioSegment.Benchmarks;

// dotnet run -c Release --project bench/Benchmarks -- --filter '*'
// The mutator job only swaps in the toolchain that finds Benchmarks.csproj; every job's other settings stay.
var config = DefaultConfig.Instance.AddJob(Job.Default.WithToolchain(ProjectToolchain.Create()).AsMutator());
BenchmarkSwitcher.FromAssembly(typeof(ProjectToolchain).Assembly).Run(args, config);
