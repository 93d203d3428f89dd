using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text.Json;
using Confluent.Kafka;

namespace CioSegment.ServiceDefaults;

/// <summary>
/// librdkafka's statistics (<c>statistics.interval.ms</c>) as metrics on the <c>CioSegment.Kafka</c> meter.
/// <para>
/// The statistics callback runs on a librdkafka thread that also serves the client, so it only stores the
/// JSON document it was given (one reference write per client). The document is parsed when the metrics
/// are collected (a scrape or an export interval), on the collector's thread, at most once per document.
/// </para>
/// Metrics: <c>cio.kafka.consumer.lag</c> (per assigned partition), <c>cio.kafka.client.queued.messages</c>
/// (messages waiting in the client's queues), <c>cio.kafka.broker.rtt</c> (average round trip per broker)
/// and <c>cio.kafka.broker.request.errors</c> (transmit and receive errors per broker, cumulative).
/// </summary>
public static class KafkaStatistics
{
    /// <summary>How often clients emit statistics unless <c>statistics.interval.ms</c> is configured.</summary>
    public const int DefaultIntervalMs = 15_000;

    public static readonly Meter Meter = new("CioSegment.Kafka");

    private static readonly ConcurrentDictionary<string, ClientEntry> Clients = new(StringComparer.Ordinal);

    /// <summary>A client that has not reported for four of the longest configured intervals is gone.</summary>
    private static int _longestIntervalMs = DefaultIntervalMs;

    static KafkaStatistics()
    {
        Meter.CreateObservableGauge("cio.kafka.consumer.lag", ObserveLag, "{message}", "Messages between a consumer's position and the partition's end (librdkafka consumer_lag), per assigned partition.");
        Meter.CreateObservableGauge("cio.kafka.client.queued.messages", ObserveQueued, "{message}", "Messages waiting in a Kafka client's queues (librdkafka msg_cnt).");
        Meter.CreateObservableGauge("cio.kafka.broker.rtt", ObserveRtt, "s", "Average request round trip to each broker over the last statistics window.");
        Meter.CreateObservableCounter("cio.kafka.broker.request.errors", ObserveErrors, "{error}", "Requests to a broker that failed to transmit or to receive (librdkafka txerrs + rxerrs).");
    }

    /// <summary>Turns statistics on for a client unless its configuration already sets an interval.</summary>
    public static T Enable<T>(T config)
        where T : ClientConfig
    {
        config.StatisticsIntervalMs ??= DefaultIntervalMs;
        var interval = config.StatisticsIntervalMs.Value;
        int seen;
        while (interval > (seen = Volatile.Read(ref _longestIntervalMs)) && Interlocked.CompareExchange(ref _longestIntervalMs, interval, seen) != seen)
        {
        }

        return config;
    }

    public static ProducerBuilder<TKey, TValue> WithStatistics<TKey, TValue>(this ProducerBuilder<TKey, TValue> builder) =>
        builder.SetStatisticsHandler((client, json) => Record(client.Name, json));

    public static ConsumerBuilder<TKey, TValue> WithStatistics<TKey, TValue>(this ConsumerBuilder<TKey, TValue> builder) =>
        builder.SetStatisticsHandler((client, json) => Record(client.Name, json));

    /// <summary>Stores a client's newest statistics document. Called on librdkafka's thread: does no parsing.</summary>
    public static void Record(string clientName, string json)
    {
        var entry = Clients.GetOrAdd(clientName, static _ => new ClientEntry());
        entry.Json = json;
        entry.UpdatedAt = Stopwatch.GetTimestamp();
    }

    /// <summary>Forgets a client that was disposed, so its last values are not reported any more.</summary>
    public static void Forget(string clientName) => Clients.TryRemove(clientName, out _);

    /// <summary>The parsed newest statistics of every client that reported recently.</summary>
    public static IEnumerable<ClientStatistics> Current()
    {
        var now = Stopwatch.GetTimestamp();
        foreach (var (name, entry) in Clients)
        {
            if (Stopwatch.GetElapsedTime(entry.UpdatedAt, now) > TimeSpan.FromMilliseconds(4L * Volatile.Read(ref _longestIntervalMs)))
            {
                // Closed or hung clients stop reporting; their last numbers would be stale.
                Clients.TryRemove(new KeyValuePair<string, ClientEntry>(name, entry));
                continue;
            }

            var parsed = entry.Parse();
            if (parsed is not null)
            {
                yield return parsed;
            }
        }
    }

    /// <summary>Parses one librdkafka statistics document; null when it is not one.</summary>
    public static ClientStatistics? Parse(string json)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return null;
            }

            var stats = new ClientStatistics(
                Str(root, "name"),
                Str(root, "client_id"),
                Str(root, "type"),
                Int(root, "msg_cnt"));

            if (root.TryGetProperty("brokers", out var brokers) && brokers.ValueKind == JsonValueKind.Object)
            {
                foreach (var broker in brokers.EnumerateObject())
                {
                    var b = broker.Value;
                    var source = Str(b, "source");

                    // Bootstrap and logical (coordinator) entries duplicate real brokers.
                    if (Int(b, "nodeid", -1) < 0 || source is "logical" or "internal")
                    {
                        continue;
                    }

                    var rttMicros = b.TryGetProperty("rtt", out var rtt) && rtt.ValueKind == JsonValueKind.Object ? Int(rtt, "avg") : 0;
                    stats.Brokers.Add(new BrokerStatistics(Str(b, "nodename") is { Length: > 0 } node ? node : broker.Name, rttMicros / 1e6, Int(b, "txerrs") + Int(b, "rxerrs")));
                }
            }

            if (root.TryGetProperty("topics", out var topics) && topics.ValueKind == JsonValueKind.Object)
            {
                foreach (var topic in topics.EnumerateObject())
                {
                    if (!topic.Value.TryGetProperty("partitions", out var partitions) || partitions.ValueKind != JsonValueKind.Object)
                    {
                        continue;
                    }

                    foreach (var partition in partitions.EnumerateObject())
                    {
                        var p = partition.Value;
                        var id = Int(p, "partition", -1);
                        var lag = Int(p, "consumer_lag", -1);

                        // Partition -1 is librdkafka's internal unassigned queue; lag -1 means unknown or not consumed here.
                        if (id >= 0 && lag >= 0)
                        {
                            stats.Lags.Add(new PartitionLag(topic.Name, (int)id, lag));
                        }
                    }
                }
            }

            return stats;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static string Str(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() ?? "" : "";

    private static long Int(JsonElement element, string name, long fallback = 0) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var n) ? n : fallback;

    private static IEnumerable<Measurement<long>> ObserveLag()
    {
        foreach (var client in Current())
        {
            foreach (var lag in client.Lags)
            {
                yield return new Measurement<long>(lag.Lag, Tag("client_id", client.ClientId), Tag("topic", lag.Topic), Tag("partition", lag.Partition.ToString(CultureInfo.InvariantCulture)));
            }
        }
    }

    private static IEnumerable<Measurement<long>> ObserveQueued()
    {
        foreach (var client in Current())
        {
            yield return new Measurement<long>(client.QueuedMessages, Tag("client_id", client.ClientId), Tag("type", client.Type), Tag("client", client.Name));
        }
    }

    private static IEnumerable<Measurement<double>> ObserveRtt() => PerBroker(b => b.RttSeconds);

    private static IEnumerable<Measurement<long>> ObserveErrors() => PerBroker(b => b.RequestErrors);

    private static IEnumerable<Measurement<T>> PerBroker<T>(Func<BrokerStatistics, T> value)
        where T : struct
    {
        foreach (var client in Current())
        {
            foreach (var broker in client.Brokers)
            {
                yield return new Measurement<T>(value(broker), Tag("client_id", client.ClientId), Tag("client", client.Name), Tag("broker", broker.Name));
            }
        }
    }

    private static KeyValuePair<string, object?> Tag(string name, object? value) => new(name, value);

    private sealed class ClientEntry
    {
        private readonly Lock _gate = new();
        private string? _parsedFrom;

        public volatile string? Json;

        public long UpdatedAt;

        private ClientStatistics? _parsed;

        public ClientStatistics? Parse()
        {
            var json = Json;
            if (json is not null && !ReferenceEquals(json, _parsedFrom))
            {
                lock (_gate)
                {
                    if (!ReferenceEquals(json, _parsedFrom))
                    {
                        _parsed = KafkaStatistics.Parse(json);
                        _parsedFrom = json;
                    }
                }
            }

            return _parsed;
        }
    }
}

/// <summary>What the metrics use of one client's statistics document.</summary>
public sealed record ClientStatistics(string Name, string ClientId, string Type, long QueuedMessages)
{
    public List<BrokerStatistics> Brokers { get; } = [];

    public List<PartitionLag> Lags { get; } = [];
}

public sealed record BrokerStatistics(string Name, double RttSeconds, long RequestErrors);

public sealed record PartitionLag(string Topic, int Partition, long Lag);
