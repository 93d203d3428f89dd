using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace CioSegment.IntegrationTests.DevHost;

/// <summary>
/// The DevHost as a user starts it, in a process of its own on a free loopback port, with its own capture
/// directory; ready once it printed its curl line. Stopped with SIGTERM, as Ctrl+C or Kubernetes would.
/// </summary>
internal sealed partial class DevHostProcess : IAsyncDisposable
{
    private Process? _process;

    private DevHostProcess()
    {
    }

    /// <summary>Every line the process wrote, stdout and stderr.</summary>
    public ConcurrentQueue<string> Output { get; } = new();

    public string CaptureDirectory { get; } = Path.Combine(Path.GetTempPath(), "ciosegment-devhost-" + Guid.NewGuid().ToString("N"));

    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>The curl line the DevHost printed to try it.</summary>
    public string CurlLine { get; private set; } = "";

    public static async Task<DevHostProcess> StartAsync(params string[] arguments)
    {
        var host = new DevHostProcess();
        try
        {
            await host.StartCoreAsync(arguments);
            return host;
        }
        catch
        {
            await host.DisposeAsync();
            throw;
        }
    }

    public async Task<string> WaitForLineAsync(Func<string, bool> match, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (Output.FirstOrDefault(match) is { } line)
            {
                return line;
            }

            if (_process!.HasExited)
            {
                break;
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"The DevHost did not print the expected line within {timeout}. Output:\n{string.Join('\n', Output)}");
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is { HasExited: false })
        {
            Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)])?.WaitForExit();
            if (!_process.WaitForExit(20_000))
            {
                _process.Kill(entireProcessTree: true);
            }
        }

        _process?.Dispose();
        if (Directory.Exists(CaptureDirectory))
        {
            Directory.Delete(CaptureDirectory, recursive: true);
        }

        await Task.CompletedTask;
    }

    private async Task StartCoreAsync(string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            ArgumentList = { Path.Combine(AppContext.BaseDirectory, "CioSegment.DevHost.dll"), "--urls", "http://127.0.0.1:0", $"--CioSegment:DevHost:CaptureDirectory={CaptureDirectory}" },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["Logging__Console__FormatterName"] = "simple";
        _process = Process.Start(start)!;
        _process.OutputDataReceived += (_, e) => { if (e.Data is not null) Output.Enqueue(e.Data); };
        _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) Output.Enqueue(e.Data); };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();

        CurlLine = await WaitForLineAsync(l => l.StartsWith("curl ", StringComparison.Ordinal), TimeSpan.FromSeconds(60));
        BaseAddress = new Uri(UrlPattern().Match(CurlLine).Groups["base"].Value);
    }

    [GeneratedRegex("'(?<base>http://[^/']+)/webhooks/")]
    private static partial Regex UrlPattern();
}
