using System.IO.Hashing;
using System.Text;

namespace CioSegment.Inspector.Index;

/// <summary>A webhook as the raw topic holds it: one row per raw record (a retry is a row of its own).</summary>
/// <param name="Wid">The raw record's coordinates as one number (<see cref="Ids.Webhook"/>).</param>
/// <param name="ReplayedFrom">For a dead letter written back by a replay: <c>topic/partition/offset</c> of the dead letter.</param>
public sealed record WebhookRow(
    long Wid,
    string Source,
    string? EventId,
    string? MessageId,
    string Person,
    string? Email,
    string? Event,
    long ReceivedAt,
    int Partition,
    long Offset,
    int Size,
    string? ReplayedFrom);

/// <summary>What a stage did, as one row. Transform facts name the webhook (<see cref="Wid"/>), publish facts its event (<see cref="Msg"/>).</summary>
public enum FactKind
{
    /// <summary>The transformer wrote a sink record (coordinates in the sink topic).</summary>
    Mapped = 1,

    /// <summary>The source's settings skip it (reason: the skip reason).</summary>
    Filtered = 2,

    /// <summary>A retry or a repeat the transformer dropped (reason: event_id, send_frequency_first).</summary>
    Deduplicated = 3,

    /// <summary>The transformer dead-lettered the raw webhook (reason).</summary>
    TransformDeadLettered = 4,

    /// <summary>The publisher parked the event on the held topic.</summary>
    Held = 5,

    /// <summary>One Segment request carrying the event: status (0 = no answer), attempt, path.</summary>
    Attempt = 6,

    /// <summary>Segment refused the event for good; the publisher dead-lettered it (reason).</summary>
    PublishDeadLettered = 7,
}

/// <summary>One fact about a webhook or its track event.</summary>
/// <param name="Ref">Only for publish facts listed on their own (held, dead letters): <c>source</c> + LF + messageId.</param>
public sealed record Fact(
    long? Wid,
    long? Msg,
    FactKind Kind,
    int Status,
    int Attempt,
    string? Reason,
    long At,
    TopicCode Topic,
    int Partition,
    long Offset,
    string? Ref);

/// <summary>The topics the index refers to, stored as small numbers.</summary>
public enum TopicCode
{
    None = 0,
    Raw = 1,
    Sink = 2,
    Held = 3,
    WebhooksDeadLetter = 4,
    SegmentDeadLetter = 5,
    Deliveries = 6,
    Outcomes = 7,
}

/// <summary>The numbers the index keys on.</summary>
public static class Ids
{
    private const int OffsetBits = 40;

    /// <summary>A raw record's partition and offset as one number (offsets up to 2^40, partitions up to 2^23).</summary>
    public static long Webhook(int partition, long offset) => ((long)partition << OffsetBits) | offset;

    public static (int Partition, long Offset) Coordinates(long wid) => ((int)(wid >> OffsetBits), wid & ((1L << OffsetBits) - 1));

    /// <summary>A track event: its source and messageId.</summary>
    public static long Message(string source, string messageId) => Hash(source + "\n" + messageId);

    /// <summary>A search term (person id, email in lower case, event_id, messageId).</summary>
    public static long Hash(string value) => unchecked((long)XxHash64.HashToUInt64(Encoding.UTF8.GetBytes(value)));
}

/// <summary>Where a webhook is now: the latest stage that said something about it.</summary>
public static class Outcomes
{
    /// <summary>In the raw topic; the transformer has not said anything yet.</summary>
    public const string Stored = "stored";

    /// <summary>A track event waits in the sink topic (or is being retried) for Segment.</summary>
    public const string Mapped = "mapped";

    public const string Filtered = "filtered";

    public const string Deduplicated = "deduplicated";

    public const string DeadLettered = "dead_lettered";

    public const string Held = "held";

    public const string Delivered = "delivered";

    public static IReadOnlyList<string> All { get; } = [Stored, Mapped, Filtered, Deduplicated, DeadLettered, Held, Delivered];
}

/// <summary>A webhook with its current outcome: a line of the search page and of the API.</summary>
public sealed record EventSummary(
    WebhookRow Webhook,
    string Outcome,
    string? Reason,
    string? Stage,
    long? DeliveredAt,
    int Attempts,
    int LastStatus);

/// <summary>A webhook, its outcome and every fact about it, oldest first.</summary>
public sealed record EventTrail(EventSummary Summary, IReadOnlyList<Fact> Facts);

/// <summary>A search: a term and filters, newest first.</summary>
public sealed record EventQuery(
    string? Term = null,
    string? Source = null,
    string? Event = null,
    string? Outcome = null,
    long? Since = null,
    long? Until = null,
    int Limit = 50);

/// <summary>A dead letter in the index: which stage, why, where it is in Kafka and whose webhook it was.</summary>
public sealed record DeadLetterEntry(Fact Fact, EventSummary? Event);
