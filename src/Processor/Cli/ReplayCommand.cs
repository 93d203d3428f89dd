using System.CommandLine;
using CioSegment.Contracts;
using CioSegment.Processor.Replay;
using CioSegment.ServiceDefaults;
using Confluent.Kafka;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace CioSegment.Processor.Cli;

/// <summary>
/// <c>replay</c>: writes dead letters back once their cause is fixed: the transformer's to the raw topic
/// (<c>--stage transform</c>, the default; docs/operations.md, CioSegmentDeadLetterRate), the publisher's to the
/// sink topic (<c>--stage publish</c>; CioSegmentSegmentErrors). Kafka settings come from the same configuration as the
/// processor (appsettings.json, <c>CioSegment__Kafka__*</c> environment variables), so it runs as is inside a
/// processor pod. Exit codes: 0 done; 1 bad command line; 2 the replay failed (reason on stderr).
/// </summary>
public static class ReplayCommand
{
    public const int ExitDone = 0;
    public const int ExitFailed = 2;

    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var stage = new Option<string>("--stage")
        {
            Description = "Whose dead letters: transform (raw webhooks, back to the raw topic) or publish (track events Segment refused, back to the sink topic).",
            DefaultValueFactory = _ => Transform.WebhookTransformer.Stage,
        };
        stage.AcceptOnlyFromAmong(Transform.WebhookTransformer.Stage, Publish.BatchPublisher.Stage);
        var from = new Option<string?>("--from")
        {
            Description = $"Dead-letter topic to read. Default: {Topics.WebhooksDeadLetter} (transform), {Topics.SegmentDeadLetter} (publish).",
        };
        var to = new Option<string?>("--to")
        {
            Description = $"Topic to write back to. Default: {Topics.RawWebhooks} (transform), {Topics.SegmentTrack} (publish).",
        };
        var since = new Option<DateTimeOffset?>("--since")
        {
            Description = "Only dead letters written at or after this instant (ISO 8601, e.g. 2026-01-31T08:00:00Z).",
        };
        var until = new Option<DateTimeOffset?>("--until")
        {
            Description = "Only dead letters written before this instant.",
        };
        var registryUrl = new Option<string?>("--schema-registry-url")
        {
            Description = "Schema Registry for --stage publish (it writes Avro sink records). Default: CioSegment__SchemaRegistry__Url.",
        };
        var reasons = new Option<string[]>("--reason")
        {
            Description = "Only dead letters whose reason starts with this (e.g. unknown_source, missing_field, segment_rejected); repeatable. Default: all.",
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

        var command = new Command("replay", "Write dead letters back after fixing what parked them: the transformer's (raw webhooks) to the raw topic, the publisher's (track events) to the sink topic.")
        {
            stage, from, to, reasons, sources, since, until, limit, dryRun, bootstrap, registryUrl,
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

            var publish = parse.GetValue(stage) == Publish.BatchPublisher.Stage;
            var request = new ReplayRequest(
                parse.GetValue(from) ?? (publish ? Topics.SegmentDeadLetter : Topics.WebhooksDeadLetter),
                parse.GetValue(to) ?? (publish ? Topics.SegmentTrack : Topics.RawWebhooks),
                parse.GetValue(reasons) ?? [],
                parse.GetValue(sources) ?? [],
                parse.GetValue(limit),
                parse.GetValue(dryRun),
                parse.GetValue(stage)!,
                parse.GetValue(since),
                parse.GetValue(until));
            var registry = configuration.GetSection(SchemaRegistryOptions.SectionName).Get<SchemaRegistryOptions>() ?? new SchemaRegistryOptions();
            registry.Url = parse.GetValue(registryUrl) ?? registry.Url;
            try
            {
                kafka.BootstrapServers = servers;

                // librdkafka's warnings and errors on standard error, as its own default handler would print them.
                using var loggers = LoggerFactory.Create(b => b.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace).SetMinimumLevel(LogLevel.Warning));
                using var registryClient = publish && !string.IsNullOrWhiteSpace(registry.Url) ? registry.CreateClient() : null;
                var result = DeadLetterReplay.Run(new KafkaClientFactory(kafka, loggers), request, stdout, cancel, registryClient is null ? null : new SegmentTrackRecordSerializer(registryClient));
                stdout.WriteLine(
                    $"{(request.DryRun ? "dry run: would replay" : "replayed")} {(request.DryRun ? result.Matched - result.BodyOmitted : result.Replayed)} of {result.Read} dead letters from {request.From} to {request.To}"
                    + (result.BodyOmitted > 0 ? $" ({result.BodyOmitted} parked without their body, skipped)" : "")
                    + (result.ByReason.Count > 0 ? "; by reason: " + string.Join(", ", result.ByReason.Select(r => $"{(r.Key.Length == 0 ? "(none)" : r.Key)} {r.Value}")) : ""));
                return Task.FromResult(ExitDone);
            }
            catch (Exception e) when (e is KafkaException or InvalidOperationException or HttpRequestException)
            {
                stderr.WriteLine("replay: " + e.Message);
                return Task.FromResult(ExitFailed);
            }
        });
        return command;
    }
}
