using System.Diagnostics;
using System.Globalization;
using System.Text;
using CioSegment.Contracts;
using CioSegment.Inspector.Index;
using CioSegment.Processor;
using Confluent.Kafka;

namespace CioSegment.LoadTest;

/// <summary>
/// The inspector's index under load, on one thread: indexing (raw webhooks parsed by the inspector's own
/// <see cref="RecordInterpreter"/>, plus a sink record and a delivery log line per webhook, written by
/// <see cref="EventIndex"/> in batches of 5 000 as the indexer does), measured in webhooks per CPU second; then
/// searches at the size reached, spread over 24 hours of receipts (24 buckets).
/// </summary>
internal static class InspectorCommand
{
    private sealed class Clock(DateTimeOffset start) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = start;

        public override DateTimeOffset GetUtcNow() => Now;
    }

    public static int Run(long webhooks, string path, bool searchOnly, long maxWebhooks, int cacheMegabytes, int buckets, int batch)
    {
        var file = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        if (!searchOnly)
        {
            EventIndex.DeleteFiles(file);
        }

        var start = new DateTimeOffset(2026, 12, 1, 0, 0, 0, TimeSpan.Zero);
        var clock = new Clock(start);
        var stepTicks = TimeSpan.FromHours(24).Ticks / Math.Max(1, maxWebhooks > 0 ? maxWebhooks : webhooks);
        using var index = new EventIndex(file, TimeSpan.FromHours(24), Math.Max(maxWebhooks > 0 ? maxWebhooks : webhooks, 1000), clock, cacheMegabytes, buckets);
        Console.WriteLine($"index: at most {Math.Max(maxWebhooks > 0 ? maxWebhooks : webhooks, 1000):N0} webhooks in {buckets} buckets, SQLite cache {cacheMegabytes} MB, {batch:N0} webhooks per transaction");
        var interpreter = new RecordInterpreter(new NoSinkRecords());
        var rows = new List<WebhookRow>(batch);
        var facts = new List<Fact>(10000);
        var notes = new List<LiveNote>(10000);
        var cpu = Process.GetCurrentProcess();
        var cpuStart = cpu.TotalProcessorTime;
        var wall = Stopwatch.StartNew();
        var reportEvery = Math.Max(5000, Math.Min(webhooks / 20, 1_000_000));
        for (long n = searchOnly ? webhooks : 0; n < webhooks;)
        {
            rows.Clear();
            facts.Clear();
            notes.Clear();
            for (var i = 0; i < batch && n < webhooks; i++, n++)
            {
                var raw = Raw(n, clock.Now);
                interpreter.Interpret(TopicCode.Raw, raw, rows, facts, notes);
                var messageId = "cio-" + EventId(n);
                facts.Add(new Fact(null, Ids.Message(Source(n), messageId), FactKind.Mapped, 0, 0, null, clock.Now.ToUnixTimeMilliseconds(), TopicCode.Sink, (int)(n % 12), n / 12, null));
                interpreter.Interpret(TopicCode.Deliveries, Delivery(n, messageId, clock.Now), rows, facts, notes);
                if (n % 1000 == 999)
                {
                    facts.Add(new Fact(Ids.Webhook((int)(n % 12), n / 12), null, FactKind.TransformDeadLettered, 0, 0, "missing_field:object_type", clock.Now.ToUnixTimeMilliseconds(), TopicCode.WebhooksDeadLetter, 0, n / 1000, null));
                }

                clock.Now = clock.Now.AddTicks(stepTicks);
            }

            index.Write(rows, facts, [new(("cio.webhooks.raw", 0), n)]);
            if (n % reportEvery < batch)
            {
                var seconds = (cpu.TotalProcessorTime - cpuStart).TotalSeconds;
                Console.WriteLine($"{n,12:N0} webhooks indexed, {n / seconds,9:N0} per CPU second, {n / wall.Elapsed.TotalSeconds,9:N0} per second, {new FileInfo(file).Length / 1e9:N2} GB");
                cpu.Refresh();
            }
        }

        cpu.Refresh();
        var cpuSeconds = (cpu.TotalProcessorTime - cpuStart).TotalSeconds;
        Console.WriteLine(searchOnly ? $"searching an existing index of {index.WebhookCount:N0} webhooks, {new FileInfo(file).Length / 1e9:N2} GB" : $"indexing: {webhooks:N0} webhooks (each with a sink record and a delivery line) in {wall.Elapsed.TotalSeconds:N1} s, {cpuSeconds:N1} CPU s: {webhooks / cpuSeconds:N0} webhooks per CPU second; index {index.WebhookCount:N0} webhooks, {new FileInfo(file).Length / 1e9:N2} GB");

        var random = new Random(7);
        var queries = new (string Name, Func<EventQuery> Query)[]
        {
            ("person id", () => new EventQuery(Person(random.NextInt64(webhooks)))),
            ("email", () => new EventQuery(Email(random.NextInt64(webhooks)).ToUpperInvariant())),
            ("event_id", () => new EventQuery(EventId(random.NextInt64(webhooks)))),
            ("messageId", () => new EventQuery("cio-" + EventId(random.NextInt64(webhooks)))),
            ("person id + source + outcome filters", () => new EventQuery(Person(random.NextInt64(webhooks)), Source: "source-1", Outcome: Outcomes.Delivered)),
            ("unknown term", () => new EventQuery("nobody-" + random.Next())),
            ("newest 50, no term", () => new EventQuery()),
            ("dead letters, newest 50", () => new EventQuery(Outcome: Outcomes.DeadLettered)),
            ("outcome delivered + source, no term", () => new EventQuery(Source: "source-2", Outcome: Outcomes.Delivered)),
            ("outcome mapped, no term (none: worst case)", () => new EventQuery(Outcome: Outcomes.Mapped)),
        };
        foreach (var (name, query) in queries)
        {
            var times = new List<double>();
            var found = 0;
            for (var i = 0; i < 25; i++)
            {
                var q = query();
                var watch = Stopwatch.StartNew();
                using (var read = index.Read())
                {
                    found += read.Search(q).Count;
                }

                times.Add(watch.Elapsed.TotalMilliseconds);
            }

            times.Sort();
            Console.WriteLine($"search by {name,-38} p50 {times[times.Count / 2],8:N1} ms, max {times[^1],8:N1} ms ({found / 25.0:N1} results each)");
        }

        return 0;
    }

    private static string Source(long n) => "source-" + (n % 4).ToString(CultureInfo.InvariantCulture);

    private static string Person(long n) => "person-" + (n / 3).ToString(CultureInfo.InvariantCulture);

    private static string Email(long n) => "person-" + (n / 3).ToString(CultureInfo.InvariantCulture) + "@example.com";

    private static string EventId(long n) => "01JEVENT" + n.ToString("D18", CultureInfo.InvariantCulture);

    private static ConsumeResult<byte[]?, byte[]?> Raw(long n, DateTimeOffset at)
    {
        var body = $$"""{"event_id":"{{EventId(n)}}","object_type":"email","metric":"opened","timestamp":1764547200,"data":{"action_id":42,"campaign_id":23,"customer_id":"{{Person(n)}}","delivery_id":"RAECAAFwnUSneIa0ZXkmSGHX","identifiers":{"id":"{{Person(n)}}","email":"{{Email(n)}}","cio_id":"d9c106000001"},"recipient":"{{Email(n)}}","subject":"Thanks for signing up"} }""";
        return new ConsumeResult<byte[]?, byte[]?>
        {
            Topic = Topics.RawWebhooks,
            Partition = (int)(n % 12),
            Offset = n / 12,
            Message = new Message<byte[]?, byte[]?>
            {
                Key = Encoding.UTF8.GetBytes(Person(n)),
                Value = Encoding.UTF8.GetBytes(body),
                Timestamp = new Timestamp(at),
                Headers = new Headers { { HeaderNames.SourceId, Encoding.UTF8.GetBytes(Source(n)) }, { HeaderNames.ReceivedAt, ReceivedAtHeader.Encode(at) } },
            },
        };
    }

    private static ConsumeResult<byte[]?, byte[]?> Delivery(long n, string messageId, DateTimeOffset at) => new()
    {
        Topic = Topics.SegmentDeliveries,
        Partition = 0,
        Offset = n,
        Message = new Message<byte[]?, byte[]?>
        {
            Key = Encoding.UTF8.GetBytes(Source(n)),
            Value = Encoding.UTF8.GetBytes("{\"source\":\"" + Source(n) + "\",\"status\":200,\"attempt\":0,\"path\":\"sink\",\"at\":\"" + at.UtcDateTime.ToString("O", CultureInfo.InvariantCulture)
                + "\",\"events\":[{\"messageId\":\"" + messageId + "\",\"topic\":\"cio.segment.track\",\"partition\":" + (n % 12).ToString(CultureInfo.InvariantCulture) + ",\"offset\":" + (n / 12).ToString(CultureInfo.InvariantCulture) + "}]}"),
            Timestamp = new Timestamp(at),
        },
    };

    /// <summary>The benchmark writes sink facts itself: no Schema Registry is involved.</summary>
    private sealed class NoSinkRecords : IDeserializer<SegmentTrackRecordView>
    {
        public SegmentTrackRecordView Deserialize(ReadOnlySpan<byte> data, bool isNull, SerializationContext context) => throw new NotSupportedException();
    }
}
