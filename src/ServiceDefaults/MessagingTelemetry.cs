using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Text;
using CioSegment.Contracts;
using Confluent.Kafka;

namespace CioSegment.ServiceDefaults;

/// <summary>
/// OpenTelemetry messaging semantic conventions for the pipeline's Kafka hops: the W3C <c>traceparent</c>
/// record header, <c>process {topic}</c> spans, and the <c>messaging.client.sent.messages</c>,
/// <c>messaging.client.consumed.messages</c>, <c>messaging.client.operation.duration</c> and
/// <c>messaging.process.duration</c> metrics (meter
/// <c>CioSegment.Messaging</c>, one per process so that every service reports them under one scope).
/// </summary>
public static class MessagingTelemetry
{
    public const string System = "kafka";

    public static readonly Meter Meter = new("CioSegment.Messaging");

    private static readonly Counter<long> SentMessages = Meter.CreateCounter<long>(
        "messaging.client.sent.messages", "{message}", "Records the broker acknowledged, by destination topic.");

    private static readonly Counter<long> ConsumedMessages = Meter.CreateCounter<long>(
        "messaging.client.consumed.messages", "{message}", "Records delivered to the application by a consumer, by topic and consumer group.");

    private static readonly Histogram<double> ProcessDuration = Meter.CreateHistogram(
        "messaging.process.duration",
        "s",
        "Time to process a record (transformer) or a batch of records (publisher, including Segment's answer and retries).",
        tags: null,
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60] });

    private static readonly Histogram<double> OperationDuration = Meter.CreateHistogram(
        "messaging.client.operation.duration",
        "s",
        "Time a client operation took: a send until the broker acknowledged it (ingest), a transaction's or offsets' commit (transformer).",
        tags: null,
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] });

    /// <summary>
    /// Records one <c>messaging.client.operation.duration</c> measurement of <paramref name="operation"/>
    /// (<c>send</c>, <c>commit</c>) on <paramref name="topic"/> (null when it spans several); <paramref name="errorType"/>
    /// is null on success.
    /// </summary>
    public static void Operation(string operation, string? topic, TimeSpan elapsed, string? errorType = null)
    {
        var tags = new TagList
        {
            { "messaging.system", System },
            { "messaging.operation.name", operation },
        };
        if (topic is not null)
        {
            tags.Add("messaging.destination.name", topic);
        }

        if (errorType is not null)
        {
            tags.Add("error.type", errorType);
        }

        OperationDuration.Record(elapsed.TotalSeconds, tags);
    }

    public static void Sent(string topic, long count = 1) =>
        SentMessages.Add(
            count,
            new KeyValuePair<string, object?>("messaging.system", System),
            new KeyValuePair<string, object?>("messaging.operation.name", "send"),
            new KeyValuePair<string, object?>("messaging.destination.name", topic));

    public static void Consumed(string topic, string group) =>
        ConsumedMessages.Add(
            1,
            new KeyValuePair<string, object?>("messaging.system", System),
            new KeyValuePair<string, object?>("messaging.operation.name", "poll"),
            new KeyValuePair<string, object?>("messaging.destination.name", topic),
            new KeyValuePair<string, object?>("messaging.consumer.group.name", group));

    /// <summary>Records one <c>messaging.process.duration</c> measurement; <paramref name="errorType"/> is null on success.</summary>
    public static void Processed(string topic, string group, TimeSpan elapsed, string? errorType = null)
    {
        var tags = new TagList
        {
            { "messaging.system", System },
            { "messaging.operation.name", "process" },
            { "messaging.destination.name", topic },
            { "messaging.consumer.group.name", group },
        };
        if (errorType is not null)
        {
            tags.Add("error.type", errorType);
        }

        ProcessDuration.Record(elapsed.TotalSeconds, tags);
    }

    /// <summary>The trace context a record carries in its <c>traceparent</c> header, or default when none or invalid.</summary>
    public static ActivityContext TraceContext(Headers? headers)
    {
        if (headers is not null
            && headers.TryGetLastBytes(HeaderNames.TraceParent, out var bytes)
            && bytes is { Length: 55 }
            && ActivityContext.TryParse(Encoding.ASCII.GetString(bytes), null, isRemote: true, out var context))
        {
            return context;
        }

        return default;
    }

    /// <summary>
    /// Starts a <c>process {topic}</c> consumer span for one record: a child of the context the record
    /// carries (so one webhook's trace continues through the topic) that also links to it, as the
    /// messaging conventions ask of consumer spans. Null when nobody listens.
    /// </summary>
    public static Activity? StartProcess(ActivitySource source, ConsumeResult<byte[]?, byte[]> record, string group)
    {
        if (!source.HasListeners())
        {
            return null;
        }

        var producer = TraceContext(record.Message.Headers);
        var activity = StartProcess(source, record.Topic, group, producer, producer == default ? null : [new ActivityLink(producer)]);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag("messaging.destination.partition.id", record.Partition.Value.ToString(global::System.Globalization.CultureInfo.InvariantCulture));
            activity.SetTag("messaging.kafka.offset", record.Offset.Value);
            activity.SetTag("messaging.message.body.size", record.Message.Value?.Length ?? 0);
        }

        return activity;
    }

    /// <summary>
    /// Starts a <c>process {topic}</c> span for a batch of records: a new trace that links to each record's
    /// context (the conventions' shape for batch processing). At most <paramref name="maxLinks"/> links
    /// (the SDK's default limit is 128); the batch size is an attribute.
    /// </summary>
    public static Activity? StartBatchProcess(ActivitySource source, string topic, string group, IEnumerable<Headers?> records, int count, int maxLinks = 128)
    {
        if (!source.HasListeners())
        {
            return null;
        }

        var links = new List<ActivityLink>(Math.Min(count, maxLinks));
        foreach (var headers in records)
        {
            if (links.Count == maxLinks)
            {
                break;
            }

            var context = TraceContext(headers);
            if (context != default)
            {
                links.Add(new ActivityLink(context));
            }
        }

        var activity = StartProcess(source, topic, group, parent: default, links);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag("messaging.batch.message_count", count);
        }

        return activity;
    }

    private static Activity? StartProcess(ActivitySource source, string topic, string group, ActivityContext parent, IEnumerable<ActivityLink>? links)
    {
        var activity = source.StartActivity(ActivityKind.Consumer, parent, tags: null, links, startTime: default, name: "process " + topic);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag("messaging.system", System);
            activity.SetTag("messaging.operation.type", "process");
            activity.SetTag("messaging.operation.name", "process");
            activity.SetTag("messaging.destination.name", topic);
            activity.SetTag("messaging.consumer.group.name", group);
        }

        return activity;
    }

    /// <summary>
    /// Adds the <c>traceparent</c> of the current span to <paramref name="to"/> (so the next hop continues
    /// from this one), or copies the incoming one when no span is recorded here.
    /// </summary>
    public static void Propagate(Headers from, Headers to)
    {
        if (Activity.Current is { IdFormat: ActivityIdFormat.W3C, Id: { Length: 55 } id })
        {
            to.Add(HeaderNames.TraceParent, Encoding.ASCII.GetBytes(id));
        }
        else if (from.TryGetLastBytes(HeaderNames.TraceParent, out var incoming))
        {
            to.Add(HeaderNames.TraceParent, incoming);
        }
    }
}
