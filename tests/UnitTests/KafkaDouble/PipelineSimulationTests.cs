using CioSegment.KafkaDouble;

namespace CioSegment.UnitTests.KafkaDouble;

/// <summary>Seeded fault schedules of the production transformer and publisher on the Kafka double and a Segment double (<see cref="PipelineSimulation"/>).</summary>
public class PipelineSimulationTests(ITestOutputHelper output)
{
    /// <summary>Set to run one schedule only (a failing seed), e.g. <c>CIOSEGMENT_SIMULATION_SEED=1234</c>.</summary>
    public const string SeedVariable = "CIOSEGMENT_SIMULATION_SEED";

    [Fact]
    public void Simulated_schedules_keep_the_invariants()
    {
        var only = int.TryParse(Environment.GetEnvironmentVariable(SeedVariable), out var s) ? s : (int?)null;
        var summary = SimulationSummary.Run(only is { } one ? [one] : Enumerable.Range(1, 2000));

        output.WriteLine($"{summary.Schedules} schedules: {summary.Totals}");
        foreach (var (fault, n) in summary.Injected)
        {
            output.WriteLine($"  {fault}: {n}");
        }

        Assert.True(
            summary.Violations.Count == 0,
            string.Join("\n", summary.Violations.Take(20).Select(v => $"seed {v.Seed}: {v.Violation}"))
            + "\nRun one again: dotnet run -c Release --project tools/LoadTest -- simulate --schedules 1 --seed <seed>");
        if (only is not null)
        {
            return;
        }

        // The schedules must actually have met every fault they can inject.
        Assert.All(
            [
                "Produce/Abortable", "Produce/QueueFull", "CommitTransaction/Retriable", "CommitTransaction/RetriableCompleted", "CommitTransaction/UnknownOutcome",
                "CommitTransaction/Fenced", "AbortTransaction/Retriable", "SendOffsetsToTransaction/Abortable", "Committed/Retriable", "ConsumerCommit/Retriable",
                "Registry/Down", .. Enum.GetValues<SegmentFault>().Where(f => f != SegmentFault.None).Select(f => $"Segment/{f}"),
            ],
            fault => Assert.True(summary.Injected.GetValueOrDefault(fault) > 0, $"no schedule injected {fault}"));
        var totals = summary.Totals;
        Assert.True(totals.Crashes > 0 && totals.Expulsions > 0 && totals.FatalExits > 0);
        Assert.True(totals.PublisherCrashes > 0 && totals.PublisherExpulsions > 0 && totals.PublisherExits > 0);
    }

    [Fact]
    public void A_seed_always_runs_the_same_schedule()
    {
        static string Outcome(PipelineSimulation run) =>
            run.Counts + " "
            + string.Join(",", run.Injected.OrderBy(f => f.Key.ToString()).Select(f => $"{f.Key}={f.Value}"))
            + string.Join(",", run.SegmentInjected.OrderBy(f => f.Key).Select(f => $"{f.Key}={f.Value}"));

        foreach (var seed in (int[])[7, 1234, 99_999])
        {
            Assert.Equal(Outcome(new PipelineSimulation(seed).Run()), Outcome(new PipelineSimulation(seed).Run()));
        }
    }
}
