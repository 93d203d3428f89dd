using CioSegment.KafkaDouble;
using Xunit.Sdk;

namespace CioSegment.UnitTests.KafkaDouble;

/// <summary>Seeded fault schedules of the production transformer on the Kafka double (<see cref="TransformerSimulation"/>).</summary>
public class TransformerSimulationTests(ITestOutputHelper output)
{
    /// <summary>Set to run one schedule only (a failing seed), e.g. <c>CIOSEGMENT_SIMULATION_SEED=1234</c>.</summary>
    public const string SeedVariable = "CIOSEGMENT_SIMULATION_SEED";

    [Fact]
    public void Simulated_schedules_keep_the_invariants()
    {
        var only = int.TryParse(Environment.GetEnvironmentVariable(SeedVariable), out var s) ? s : (int?)null;
        var seeds = only is { } one ? [one] : Enumerable.Range(1, 2000).ToArray();
        var schedules = seeds.Length;
        var failures = new List<string>();
        var injected = new Dictionary<string, int>();
        int crashes = 0, exits = 0, expulsions = 0, commits = 0;
        foreach (var seed in seeds)
        {
            var run = new TransformerSimulation(seed).Run();
            failures.AddRange(run.Violations.Select(v => $"seed {seed}: {v}"));
            foreach (var ((point, kind), n) in run.Injected)
            {
                injected[$"{point}/{kind}"] = injected.GetValueOrDefault($"{point}/{kind}") + n;
            }

            crashes += run.Crashes;
            exits += run.FatalExits;
            expulsions += run.Expulsions;
            commits += run.Commits;
        }

        output.WriteLine($"{schedules} schedules: {commits} commit calls, {crashes} crashes, {exits} fatal exits, {expulsions} expulsions");
        foreach (var (fault, n) in injected.OrderBy(f => f.Key, StringComparer.Ordinal))
        {
            output.WriteLine($"  {fault}: {n}");
        }

        Assert.True(failures.Count == 0, string.Join("\n", failures.Take(20)) + $"\nRun one again: {SeedVariable}=<seed> dotnet test --project tests/UnitTests -- --filter-method '*Simulated_schedules_keep_the_invariants'");
        if (only is not null)
        {
            return;
        }

        // The schedules must actually have met every fault they can inject.
        Assert.All(["Produce/Abortable", "CommitTransaction/Retriable", "CommitTransaction/RetriableCompleted", "CommitTransaction/UnknownOutcome", "CommitTransaction/Fenced", "AbortTransaction/Retriable", "SendOffsetsToTransaction/Abortable", "Committed/Retriable"],
            fault => Assert.True(injected.GetValueOrDefault(fault) > 0, $"no schedule injected {fault}"));
        Assert.True(crashes > 0 && expulsions > 0 && exits > 0);
    }
}
