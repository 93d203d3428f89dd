using System.Diagnostics;
using System.Globalization;
using System.Text;
using CioSegment.Contracts;
using CioSegment.DevDoubles.Kafka;
using CioSegment.DevDoubles.SchemaRegistry;
using CioSegment.Mapping;
using CioSegment.Processor;
using Confluent.Kafka;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using CioSegment.ServiceDefaults;
using OpenTelemetry;
using OpenTelemetry.Trace;
using Microsoft.Extensions.Logging;

namespace CioSegment.Benchmarks;

/// <summary>
/// Throughput of the transformer alone, from raw topic to sink topic, on the embedded development broker:
/// <c>dotnet run -c Release --project bench/Benchmarks -- transformer [records] [partitions]</c>.
/// The raw topic is filled first; then one transformer instance (at-least-once, as on this broker) is
/// started and timed until every record has produced its sink record.
/// </summary>
internal static class TransformerThroughput
{
    public static async Task<int> RunAsync(string[] args)
    {
        var records = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 200_000;
        var partitions = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 48;

        // "telemetry": the services' OpenTelemetry set-up (AddTelemetry), every trace sampled and exported
        // in batches to an exporter that only counts, so the cost of spans and metrics shows in the rate.
        // "metrics": the same set-up with no trace sampled (metrics and the sampling decision only).
        var mode = args.Length > 3 ? args[3] : "none";
        var telemetry = mode is "telemetry" or "metrics";
        // The embedded broker keeps only the newest 5 MiB or 100 000 records per partition and silently
        // drops older ones; sink records are about 1.5 times the raw body. Stay well below.
        const long bytesPerPartition = 3L * 1024 * 1024;
        var needed = (int)Math.Ceiling(records * 454.0 * 1.6 / bytesPerPartition);
        if (partitions < needed || records / partitions > 90_000)
        {
            Console.Error.WriteLine($"{records} records need at least {needed} partitions on the embedded broker (5 MiB / 100 000 records per partition, older data is dropped).");
            return 1;
        }

        using var broker = EmbeddedKafkaBroker.Start();
        foreach (var topic in new[] { Topics.RawWebhooks, Topics.SegmentTrack, Topics.DedupChangelog })
        {
            broker.CreateTopic(topic, partitions);
        }

        broker.CreateTopic(Topics.WebhooksDeadLetter, 1);
        await using var registry = await DevSchemaRegistryServer.StartAsync();

        Console.WriteLine($"// {EmbeddedKafkaBroker.Label}");
        Console.WriteLine($"// generating {records} webhooks ...");
        var bodies = ReportingWebhookCorpus.Generate(records, MappingBenchmarks.Seed);
        var produce = Stopwatch.StartNew();
        using (var producer = new ProducerBuilder<byte[]?, byte[]>(new ProducerConfig
        {
            BootstrapServers = broker.BootstrapServers,
            Acks = Acks.All,
            EnableIdempotence = true,
            LingerMs = 5,
            QueueBufferingMaxMessages = 500_000,
        }).Build())
        {
            var received = Encoding.ASCII.GetBytes(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture));
            foreach (var body in bodies)
            {
                ReportingWebhookParser.TryParse(body, out var parsed, out _);
                producer.Produce(Topics.RawWebhooks, new Message<byte[]?, byte[]>
                {
                    Key = PersonKeys.Of(body, parsed),
                    Value = body,
                    Headers = new Headers { { HeaderNames.SourceId, "bench"u8.ToArray() }, { HeaderNames.ReceivedAt, received } },
                });
            }

            producer.Flush(TimeSpan.FromMinutes(2));
        }

        produce.Stop();
        Console.WriteLine($"// raw topic filled: {records} records in {produce.Elapsed.TotalSeconds:F1} s ({records / produce.Elapsed.TotalSeconds:F0} records/s produced)");

        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.ClearProviders();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["CioSegment:Kafka:BootstrapServers"] = broker.BootstrapServers,
            ["CioSegment:SchemaRegistry:Url"] = registry.Url.ToString(),
            ["CioSegment:Transformer:ProcessingGuarantee"] = "AtLeastOnce",
            ["CioSegment:Transformer:GroupId"] = "bench-transformer",
            ["CioSegment:Sources:bench:WebhookSigningKey"] = "k",
            ["CioSegment:Sources:bench:WriteKey"] = "w",
        });
        builder.AddTransformer();
        var exported = new CountingExporter();
        if (telemetry)
        {
            builder.AddTelemetry("bench-transformer");
            builder.Services.ConfigureOpenTelemetryTracerProvider(t => t.SetSampler(mode == "metrics" ? new AlwaysOffSampler() : new AlwaysOnSampler()).AddProcessor(new BatchActivityExportProcessor(exported)));
        }

        using var host = builder.Build();

        using var watcher = new ConsumerBuilder<Ignore, Ignore>(new ConsumerConfig { BootstrapServers = broker.BootstrapServers, GroupId = "bench-watch" }).Build();
        long SinkCount() => Enumerable.Range(0, partitions)
            .Sum(p => watcher.QueryWatermarkOffsets(new TopicPartition(Topics.SegmentTrack, p), TimeSpan.FromSeconds(5)).High.Value);

        var clock = Stopwatch.StartNew();
        await host.StartAsync();
        TimeSpan? firstOutput = null;
        long count;
        while ((count = SinkCount()) < records && clock.Elapsed < TimeSpan.FromMinutes(5))
        {
            if (count > 0 && firstOutput is null)
            {
                firstOutput = clock.Elapsed;
            }

            await Task.Delay(50);
        }

        clock.Stop();
        await host.StopAsync();
        var dropped = Enumerable.Range(0, partitions)
            .Sum(p => watcher.QueryWatermarkOffsets(new TopicPartition(Topics.RawWebhooks, p), TimeSpan.FromSeconds(5)).Low.Value);
        if (dropped > 0)
        {
            Console.WriteLine($"// the embedded broker dropped {dropped} raw records (per-partition retention): not pipeline loss, but the run is invalid");
        }

        var steady = clock.Elapsed - (firstOutput ?? TimeSpan.Zero);
        Console.WriteLine($"transformer: {count} of {records} records raw -> sink in {clock.Elapsed.TotalSeconds:F2} s "
            + $"= {count / clock.Elapsed.TotalSeconds:F0} records/s including start-up and group join; "
            + $"{count / steady.TotalSeconds:F0} records/s from the first output on ({partitions} partitions, 1 instance, at-least-once"
            + (telemetry ? $", telemetry on ({mode}): {exported.Count} spans exported)" : ", no telemetry listener)"));
        return count == records ? 0 : 1;
    }
}

/// <summary>An exporter that only counts what it is given.</summary>
internal sealed class CountingExporter : BaseExporter<Activity>
{
    private long _count;

    public long Count => Interlocked.Read(ref _count);

    public override ExportResult Export(in Batch<Activity> batch)
    {
        Interlocked.Add(ref _count, batch.Count);
        return ExportResult.Success;
    }
}
