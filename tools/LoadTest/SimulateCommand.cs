using System.Diagnostics;
using System.Globalization;
using CioSegment.KafkaDouble;

namespace CioSegment.LoadTest;

/// <summary>
/// <c>simulate --schedules N [--seed S]</c>: N seeded fault schedules of the production transformer and
/// publisher on the Kafka double and a Segment double (<see cref="PipelineSimulation"/>: Kafka, registry and
/// Segment faults, crashes, restarts, lost partitions, with its invariants checked). In process, no network. Prints each violating seed with the command that runs it
/// alone, the faults injected, and closes with <c>simulate: N schedules, violations V</c>.
/// </summary>
internal static class SimulateCommand
{
    public static int Run(int schedules, int firstSeed, int steps)
    {
        var clock = Stopwatch.StartNew();
        var summary = SimulationSummary.Run(Enumerable.Range(firstSeed, schedules), steps);
        foreach (var group in summary.Violations.GroupBy(v => v.Seed))
        {
            foreach (var (seed, violation) in group)
            {
                Console.WriteLine($"seed {seed}: {violation}");
            }

            Console.WriteLine($"  again: dotnet run -c Release --project tools/LoadTest -- simulate --schedules 1 --seed {group.Key.ToString(CultureInfo.InvariantCulture)} --steps {steps.ToString(CultureInfo.InvariantCulture)}");
        }

        Console.WriteLine($"seeds {firstSeed}..{firstSeed + schedules - 1}, {steps} steps each, {clock.Elapsed.TotalSeconds:F1} s: {summary.Totals}");
        foreach (var (fault, n) in summary.Injected)
        {
            Console.WriteLine($"  {fault}: {n}");
        }

        var violating = summary.Violations.Select(v => v.Seed).Distinct().Count();
        Console.WriteLine($"simulate: {schedules} schedules, violations {violating}");
        return violating == 0 ? 0 : 1;
    }
}
