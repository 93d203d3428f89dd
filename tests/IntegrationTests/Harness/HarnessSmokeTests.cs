using System.Diagnostics;
using System.Text.RegularExpressions;

namespace CioSegment.IntegrationTests.Harness;

/// <summary>Short runs of tools/LoadTest, so the harness itself keeps working and its claims keep holding.</summary>
public sealed partial class HarnessSmokeTests
{
    [Fact]
    public async Task A_short_fuzz_run_finds_no_5xx_and_no_crash()
    {
        var (exit, output) = await RunAsync("fuzz", "--requests", "400");
        Assert.True(exit == 0, output);
        Assert.Matches(FuzzLine(), output.TrimEnd().Split('\n')[^1]);
        Assert.Contains("5xx 0, crashes 0", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_short_end_to_end_run_loses_nothing_and_delivers_nothing_twice()
    {
        var (exit, output) = await RunAsync("e2e", "--seconds", "3", "--rate", "300");
        Assert.True(exit == 0, output);
        Assert.Matches(E2eLine(), output.TrimEnd().Split('\n')[^1]);
        Assert.EndsWith("lost 0, duplicates 0", output.TrimEnd(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_chaos_cycle_loses_nothing()
    {
        var (exit, output) = await RunAsync("chaos", "--cycles", "1", "--rate", "200");
        Assert.True(exit == 0, output);
        Assert.Matches(ChaosLine(), output.TrimEnd().Split('\n')[^1]);
        Assert.Contains(", lost 0,", output, StringComparison.Ordinal);
    }

    private static async Task<(int Exit, string Output)> RunAsync(params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = AppContext.BaseDirectory };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "CioSegment.LoadTest.dll"));
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(4));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        return (process.ExitCode, await stdout + await stderr);
    }

    [GeneratedRegex(@"^fuzz: \d+ requests, 5xx \d+, crashes \d+$")]
    private static partial Regex FuzzLine();

    [GeneratedRegex(@"^throughput: \d+ events/s, p99 \d+ ms, lost \d+, duplicates \d+$")]
    private static partial Regex E2eLine();

    [GeneratedRegex(@"^chaos: \d+ kills, accepted \d+, lost \d+, duplicates \d+$")]
    private static partial Regex ChaosLine();
}
