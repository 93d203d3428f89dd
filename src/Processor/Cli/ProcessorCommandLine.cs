using System.CommandLine;
using CioSegment.ServiceDefaults;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace CioSegment.Processor.Cli;

/// <summary>
/// The processor's command line: <c>map</c> previews one mapping; anything else runs the pipeline stages
/// as a host, with the arguments as configuration (<c>--CioSegment:Kafka:BootstrapServers=...</c>).
/// </summary>
public static class ProcessorCommandLine
{
    private static readonly HashSet<string> Commands = new(StringComparer.Ordinal) { "map", "replay", "-h", "--help", "-?" };

    public static RootCommand Create(Func<Stream> stdin, Stream stdout, TextWriter stdoutText, TextWriter stderr) =>
        new("CioSegment processor: turns Customer.io reporting webhooks into Segment track calls; `map` previews one mapping, `replay` writes dead letters back. "
            + "Without a command it runs the transformer and the Segment publisher, configured by appsettings.json, environment variables "
            + "and --Section:Key=value arguments.")
        {
            MapCommand.Create(stdin, stdout, stderr),
            ReplayCommand.Create(stdoutText, stderr),
        };

    /// <summary>Runs <paramref name="args"/>; returns the exit code.</summary>
    public static int Run(string[] args, Func<Stream> stdin, Stream stdout, TextWriter stdoutText, TextWriter stderr)
    {
        if (args.Length == 0 || !Commands.Contains(args[0]))
        {
            return RunHost(args);
        }

        var parse = Create(stdin, stdout, stdoutText, stderr).Parse(args);
        return parse.Invoke(new InvocationConfiguration { Output = stdoutText, Error = stderr });
    }

    /// <summary>Port of the processor's own HTTP listener (<c>/metrics</c>, <c>/health/live</c>, <c>/health/ready</c>) unless <c>urls</c> is set.</summary>
    public const string DefaultUrls = "http://0.0.0.0:9464";

    private static int RunHost(string[] args)
    {
        var builder = WebApplication.CreateBuilder(args);
        if (string.IsNullOrEmpty(builder.Configuration["urls"]))
        {
            builder.WebHost.UseUrls(DefaultUrls);
        }

        builder.AddTransformer();
        builder.AddPublisher();
        builder.AddTelemetry("cio-processor");
        builder.Services.AddHealthChecks();
        using var app = builder.Build();
        app.MapTelemetry();
        app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = c => c.Tags.Contains("live") });
        app.MapHealthChecks("/health/ready", new HealthCheckOptions { Predicate = c => c.Tags.Contains("ready") });
        app.Run();
        return Environment.ExitCode;
    }
}
