using System.CommandLine;
using CioSegment.Contracts;
using CioSegment.Processor.Replay;
using CioSegment.ServiceDefaults;
using Confluent.Kafka;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace CioSegment.Processor.Cli;

/// <summary>
/// <c>replay</c>: writes the transformer's dead letters back to the raw topic once their cause is fixed
/// (docs/operations.md, CioSegmentDeadLetterRate). Kafka settings come from the same configuration as the
/// processor (appsettings.json, <c>CioSegment__Kafka__*</c> environment variables), so it runs as is inside a
/// processor pod. Exit codes: 0 done; 1 bad command line; 2 the replay failed (reason on stderr).
/// </summary>
public static class ReplayCommand
{
    public const int ExitDone = 0;
    public const int ExitFailed = 2;

    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var from = new Option<string>("--from")
        {
            Description = "Dead-letter topic to read (the transformer's).",
            DefaultValueFactory = _ => Topics.WebhooksDeadLetter,
        };
        var to = new Option<string>("--to")
        {
            Description = "Raw topic to write the webhooks back to.",
            DefaultValueFactory = _ => Topics.RawWebhooks,
        };
        var reasons = new Option<string[]>("--reason")
        {
            Description = "Only dead letters whose reason starts with this (e.g. unknown_source, missing_field); repeatable. Default: all.",
            AllowMultipleArgumentsPerToken = true,
        };
        var sources = new Option<string[]>("--source")
        {
            Description = "Only dead letters of this source id; repeatable. Default: all.",
            AllowMultipleArgumentsPerToken = true,
        };
        var limit = new Option<long?>("--limit")
        {
            Description = "Replay at most this many (matching) dead letters.",
        };
        limit.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<long?>() is <= 0)
            {
                r.AddError("--limit must be at least 1.");
            }
        });
        var dryRun = new Option<bool>("--dry-run")
        {
            Description = "Count what would be replayed, by reason; write nothing.",
        };
        var bootstrap = new Option<string?>("--bootstrap-servers")
        {
            Description = "Kafka bootstrap servers. Default: CioSegment:Kafka:BootstrapServers from appsettings.json or CioSegment__Kafka__BootstrapServers.",
        };

        var command = new Command("replay", "Write the transformer's dead letters (raw webhooks) back to the raw topic, after fixing what parked them.")
        {
            from, to, reasons, sources, limit, dryRun, bootstrap,
        };

        command.SetAction((parse, cancel) =>
        {
            var configuration = new ConfigurationBuilder()
                .AddJsonFile(Path.Combine(AppContext.BaseDirectory, "appsettings.json"), optional: true)
                .AddEnvironmentVariables()
                .Build();
            var kafka = configuration.GetSection(KafkaOptions.SectionName).Get<KafkaOptions>() ?? new KafkaOptions();
            var servers = parse.GetValue(bootstrap) ?? kafka.BootstrapServers;
            if (string.IsNullOrWhiteSpace(servers))
            {
                stderr.WriteLine("replay: no Kafka bootstrap servers: pass --bootstrap-servers or set CioSegment__Kafka__BootstrapServers.");
                return Task.FromResult(ExitFailed);
            }

            var request = new ReplayRequest(
                parse.GetValue(from)!,
                parse.GetValue(to)!,
                parse.GetValue(reasons) ?? [],
                parse.GetValue(sources) ?? [],
                parse.GetValue(limit),
                parse.GetValue(dryRun));
            try
            {
                kafka.BootstrapServers = servers;

                // librdkafka's warnings and errors on standard error, as its own default handler would print them.
                using var loggers = LoggerFactory.Create(b => b.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace).SetMinimumLevel(LogLevel.Warning));
                var result = DeadLetterReplay.Run(new KafkaClientFactory(kafka, loggers), request, stdout, cancel);
                stdout.WriteLine(
                    $"{(request.DryRun ? "dry run: would replay" : "replayed")} {(request.DryRun ? result.Matched - result.BodyOmitted : result.Replayed)} of {result.Read} dead letters from {request.From} to {request.To}"
                    + (result.BodyOmitted > 0 ? $" ({result.BodyOmitted} parked without their body, skipped)" : "")
                    + (result.ByReason.Count > 0 ? "; by reason: " + string.Join(", ", result.ByReason.Select(r => $"{(r.Key.Length == 0 ? "(none)" : r.Key)} {r.Value}")) : ""));
                return Task.FromResult(ExitDone);
            }
            catch (Exception e) when (e is KafkaException or InvalidOperationException)
            {
                stderr.WriteLine("replay: " + e.Message);
                return Task.FromResult(ExitFailed);
            }
        });
        return command;
    }
}
