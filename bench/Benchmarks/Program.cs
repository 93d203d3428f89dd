using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using CioSegment.Benchmarks;

// dotnet run -c Release --project bench/Benchmarks -- --filter '*'             BenchmarkDotNet (mapping)
// dotnet run -c Release --project bench/Benchmarks -- transformer [records] [partitions] [none|metrics|telemetry]   transformer throughput
// dotnet run -c Release --project bench/Benchmarks -- dedup [keys]             bytes per dedup key
// dotnet run -c Release --project bench/Benchmarks -- publisher [events] [ms]  batch fill under load
if (args.Length > 0 && args[0] == "transformer")
{
    return await TransformerThroughput.RunAsync(args);
}

if (args.Length > 0 && args[0] == "publisher")
{
    return await PublisherLoad.RunAsync(args);
}

if (args.Length > 0 && args[0] == "dedup")
{
    return DedupFootprint.Run(args);
}

// The mutator job only swaps in the toolchain that finds Benchmarks.csproj; every job's other settings stay.
var config = DefaultConfig.Instance.AddJob(Job.Default.WithToolchain(ProjectToolchain.Create()).AsMutator());
BenchmarkSwitcher.FromAssembly(typeof(ProjectToolchain).Assembly).Run(args, config);
return 0;
