using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;

namespace CioSegment.LoadTest;

/// <summary>A service of this repository run as its own process (<c>dotnet CioSegment.X.dll args</c>), with its output and peak memory.</summary>
internal sealed class ServiceProcess : IDisposable
{
    private readonly Process _process;
    private long _peakRssKb;

    private ServiceProcess(string name, Process process)
    {
        Name = name;
        _process = process;
    }

    public string Name { get; }

    public ConcurrentQueue<string> Output { get; } = new();

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    public int? ExitCode => _process.HasExited ? _process.ExitCode : null;

    /// <summary>Peak resident memory seen (VmHWM), in MB.</summary>
    public double PeakMemoryMb
    {
        get
        {
            Sample();
            return Interlocked.Read(ref _peakRssKb) / 1024.0;
        }
    }

    public static ServiceProcess Start(string name, string assembly, params string[] args) => Start(name, assembly, new Dictionary<string, string>(), args);

    /// <param name="environment">Extra environment variables for the process (runtime knobs to try, for example).</param>
    public static ServiceProcess Start(string name, string assembly, IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, assembly));
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }

        start.Environment["Logging__LogLevel__Default"] = "Warning";
        start.Environment["Logging__LogLevel__CioSegment"] = "Warning";
        foreach (var (variable, value) in environment)
        {
            start.Environment[variable] = value;
        }

        var process = Process.Start(start)!;
        var service = new ServiceProcess(name, process);
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) service.Output.Enqueue(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) service.Output.Enqueue(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return service;
    }

    /// <summary>
    /// The development broker as its own process (<c>DevHost broker</c>, 24 partitions), once it printed its
    /// bootstrap servers and Schema Registry URL.
    /// </summary>
    public static async Task<(ServiceProcess Broker, string Bootstrap, string Registry)> StartBrokerAsync(IReadOnlyDictionary<string, string>? environment = null)
    {
        var broker = Start("broker", "CioSegment.DevHost.dll", environment ?? new Dictionary<string, string>(), "broker", "--partitions", "24");
        try
        {
            var bootstrap = (await broker.WaitForLineAsync(l => l.StartsWith("bootstrap.servers=", StringComparison.Ordinal), TimeSpan.FromSeconds(60)))["bootstrap.servers=".Length..];
            var registry = (await broker.WaitForLineAsync(l => l.StartsWith("schema.registry.url=", StringComparison.Ordinal), TimeSpan.FromSeconds(60)))["schema.registry.url=".Length..];
            return (broker, bootstrap, registry);
        }
        catch
        {
            broker.Dispose();
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

            if (_process.HasExited)
            {
                break;
            }

            await Task.Delay(50);
        }

        throw new TimeoutException($"{Name} did not print the expected line. Output:\n{string.Join('\n', Output.TakeLast(40))}");
    }

    /// <summary>User + system CPU time the process has used so far.</summary>
    public TimeSpan CpuTime
    {
        get
        {
            _process.Refresh();
            return _process.TotalProcessorTime;
        }
    }

    /// <summary>Reads the process's peak resident set (VmHWM) so far.</summary>
    public void Sample()
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{_process.Id}/status"))
            {
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                {
                    var kb = long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
                    long current;
                    while (kb > (current = Interlocked.Read(ref _peakRssKb)) && Interlocked.CompareExchange(ref _peakRssKb, kb, current) != current)
                    {
                    }
                }
            }
        }
        catch (IOException)
        {
        }
    }

    /// <summary>SIGKILL: no shutdown code runs.</summary>
    public void Kill()
    {
        Sample();
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(10_000);
        }
    }

    /// <summary>SIGTERM, then SIGKILL after the grace period.</summary>
    public void Stop(TimeSpan grace)
    {
        Sample();
        if (_process.HasExited)
        {
            return;
        }

        using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)]))
        {
            kill?.WaitForExit();
        }

        if (!_process.WaitForExit(grace))
        {
            Kill();
        }
    }

    public void Dispose()
    {
        Kill();
        _process.Dispose();
    }
}
