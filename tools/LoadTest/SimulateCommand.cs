using System.Diagnostics;
using System.Globalization;
using CioSegment.KafkaDouble;

namespace CioSegment.LoadTest;

/// <summary>
/// <c>simulate --schedules N [--seed S]</c>: N seeded fault schedules of the production transformer on the
/// Kafka double (<see cref="TransformerSimulation"/>: faults, crashes, restarts, lost partitions, with its
/// invariants checked). In process, no network. Prints each violating seed with the command that runs it
/// alone, the faults injected, and closes with <c>simulate: N schedules, violations V</c>.
/// </summary>
internal static class SimulateCommand
{
    public static int Run(int schedules, int firstSeed, int steps)
    {
        var clock = Stopwatch.StartNew();
        var violations = 0;
        var injected = new SortedDictionary<string, int>(StringComparer.Ordinal);
        long crashes = 0, exits = 0, expulsions = 0, commits = 0;
        for (var seed = firstSeed; seed < firstSeed + schedules; seed++)
        {
            var run = new TransformerSimulation(seed).Run(steps);
            foreach (var violation in run.Violations)
            {
                Console.WriteLine($"seed {seed}: {violation}");
            }

            if (run.Violations.Count > 0)
            {
                violations++;
                Console.WriteLine($"  again: dotnet run -c Release --project tools/LoadTest -- simulate --schedules 1 --seed {seed.ToString(CultureInfo.InvariantCulture)} --steps {steps.ToString(CultureInfo.InvariantCulture)}");
            }

            foreach (var ((point, kind), n) in run.Injected)
            {
                injected[$"{point}/{kind}"] = injected.GetValueOrDefault($"{point}/{kind}") + n;
            }

            crashes += run.Crashes;
            exits += run.FatalExits;
            expulsions += run.Expulsions;
            commits += run.Commits;
        }

        Console.WriteLine($"seeds {firstSeed}..{firstSeed + schedules - 1}, {steps} steps each, {clock.Elapsed.TotalSeconds:F1} s: {commits} commit calls, {crashes} crashes, {exits} fatal exits, {expulsions} expulsions");
        foreach (var (fault, n) in injected)
        {
            Console.WriteLine($"  {fault}: {n}");
        }

        Console.WriteLine($"simulate: {schedules} schedules, violations {violations}");
        return violations == 0 ? 0 : 1;
    }
}
