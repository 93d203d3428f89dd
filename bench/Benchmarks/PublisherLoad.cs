using System.Diagnostics;
using System.Globalization;
using System.Text;
using CioSegment.Contracts;
using CioSegment.DevDoubles.Kafka;
using CioSegment.DevDoubles.SchemaRegistry;
using CioSegment.DevDoubles.Segment;
using CioSegment.Processor;
using CioSegment.Processor.Transform;
using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace CioSegment.Benchmarks;

/// <summary>
/// Batch fill and requests per 1000 events of the publisher under load:
/// <c>dotnet run -c Release --project bench/Benchmarks -- publisher [events] [linger-ms]</c>.
/// Fills the sink topic (embedded broker) with track events of realistic size, then one publisher drains
/// it into a loopback stand-in for Segment that answers 200 after a simulated 20 ms round trip.
/// </summary>
internal static class PublisherLoad
{
    public static async Task<int> RunAsync(string[] args)
    {
        var events = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 100_000;
        var lingerMs = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 250;
        const int partitions = 48;
        using var broker = EmbeddedKafkaBroker.Start();
        broker.CreateTopic(Topics.SegmentTrack, partitions);
        broker.CreateTopic(Topics.SegmentDeadLetter, 1);
        await using var registry = await DevSchemaRegistryServer.StartAsync();

        await using var segment = await SegmentStandIn.StartAsync(new SegmentStandInOptions { Latency = TimeSpan.FromMilliseconds(20) });
        var segmentUrl = segment.Url.ToString();

        using (var client = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = registry.Url.ToString() }))
        using (var producer = new ProducerBuilder<byte[]?, byte[]>(new ProducerConfig { BootstrapServers = broker.BootstrapServers, LingerMs = 5 }).Build())
        {
            var serializer = new SegmentTrackRecordSerializer(client);
            var mapper = new CioSegment.Mapping.SegmentTrackMapper();
            var settings = CioSegment.Mapping.Settings.SourceSettings.ForMapping();
            var bodies = ReportingWebhookCorpus.Generate(Math.Min(events, 20_000), MappingBenchmarks.Seed);
            for (var i = 0; i < events; i++)
            {
                var (_, json) = mapper.MapToString(bodies[i % bodies.Length], settings, DateTimeOffset.UtcNow);
                var track = Encoding.UTF8.GetBytes(json!.Replace("\"messageId\":\"", "\"messageId\":\"" + i + "-", StringComparison.Ordinal));
                var person = "p" + (i % 5000);
                var record = new SegmentTrackRecord { SourceId = "bench", MessageId = i.ToString(CultureInfo.InvariantCulture), PersonKey = person, Event = "e", ReceivedAt = DateTime.UtcNow, TrackJson = track };
                producer.Produce(Topics.SegmentTrack, new Message<byte[]?, byte[]>
                {
                    Key = Encoding.UTF8.GetBytes(person),
                    Value = serializer.Serialize(record, new SerializationContext(MessageComponentType.Value, Topics.SegmentTrack)),
                });
            }

            producer.Flush(TimeSpan.FromMinutes(1));
        }

        var host = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        host.Logging.ClearProviders();
        host.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["CioSegment:Kafka:BootstrapServers"] = broker.BootstrapServers,
            ["CioSegment:SchemaRegistry:Url"] = registry.Url.ToString(),
            ["CioSegment:Publisher:Linger"] = TimeSpan.FromMilliseconds(lingerMs).ToString(),
            ["CioSegment:Sources:bench:WebhookSigningKey"] = "k",
            ["CioSegment:Sources:bench:WriteKey"] = "w",
            ["CioSegment:Sources:bench:SegmentEndpoint"] = segmentUrl,
        });
        host.AddPublisher();
        using var app = host.Build();
        var clock = Stopwatch.StartNew();
        await app.StartAsync();
        while (segment.Events < events && clock.Elapsed < TimeSpan.FromMinutes(5))
        {
            await Task.Delay(50);
        }

        clock.Stop();
        await app.StopAsync();
        var batches = segment.StoredBatches.ToList();
        var delivered = batches.Sum(b => b.Events);
        Console.WriteLine(
            $"publisher: {delivered} of {events} events in {clock.Elapsed.TotalSeconds:F2} s = {delivered / clock.Elapsed.TotalSeconds:F0} events/s; "
            + $"{batches.Count} requests = {batches.Count * 1000.0 / delivered:F2} per 1000 events; "
            + $"mean {batches.Average(b => b.Events):F0} events / {batches.Average(b => b.Bytes) / 1000:F0} KB per batch "
            + $"(fill {batches.Average(b => b.Events) / 2500:P0} of 2500 events, {batches.Average(b => b.Bytes) / 500_000:P0} of 500 KB); "
            + $"max {batches.Max(b => b.Events)} events / {batches.Max(b => b.Bytes) / 1000} KB; linger {lingerMs} ms, 20 ms stand-in round trip");
        return delivered == events ? 0 : 1;
    }
}
