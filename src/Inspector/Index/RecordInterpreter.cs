using System.Text;
using System.Text.Json;
using CioSegment.Contracts;
using CioSegment.Mapping;
using CioSegment.Processor;
using CioSegment.ServiceDefaults;
using Confluent.Kafka;

namespace CioSegment.Inspector.Index;

/// <summary>Something that just happened, for the live view: a webhook arrived, or a stage said something about it.</summary>
public sealed record LiveNote(string Source, string? Raw, string? EventId, string? MessageId, string? Person, string? Event, string What, int Status, string? Reason, long At);

/// <summary>
/// Turns the pipeline's records into index rows: a raw webhook into a <see cref="WebhookRow"/> (parsed for its
/// search terms with the mapping's own parser), every other topic's record into <see cref="Fact"/>s. Bodies are
/// not copied; the index keeps the coordinates to read them from Kafka. A record it cannot read (a sink record
/// of an unknown shape, a delivery log line that is not JSON) is counted and skipped: the inspector only
/// watches, and the pipeline has already decided what became of it.
/// </summary>
public sealed class RecordInterpreter(IDeserializer<SegmentTrackRecordView> sinkRecords)
{
    private readonly byte[] _messageId = new byte[MessageIds.MaxLength + 2];

    /// <summary>Records skipped because they could not be read.</summary>
    public long Unreadable => Interlocked.Read(ref _unreadable);

    private long _unreadable;

    /// <summary>Counts a record the caller skipped.</summary>
    public void CountUnreadable() => Interlocked.Increment(ref _unreadable);

    /// <summary>Reads one record; may throw only for a temporary fault (the Schema Registry), so the caller can retry it.</summary>
    public void Interpret(TopicCode topic, ConsumeResult<byte[]?, byte[]?> record, List<WebhookRow> webhooks, List<Fact> facts, List<LiveNote> notes)
    {
        try
        {
            switch (topic)
            {
                case TopicCode.Raw:
                    Raw(record, webhooks, notes);
                    break;
                case TopicCode.Outcomes:
                    Outcome(record, facts, notes);
                    break;
                case TopicCode.WebhooksDeadLetter:
                    WebhookDeadLetter(record, facts, notes);
                    break;
                case TopicCode.Sink or TopicCode.Held:
                    Track(topic, record, facts, notes);
                    break;
                case TopicCode.SegmentDeadLetter:
                    SegmentDeadLetter(record, facts, notes);
                    break;
                case TopicCode.Deliveries:
                    Deliveries(record, facts, notes);
                    break;
            }
        }
        catch (Exception e) when (e is JsonException or InvalidDataException or FormatException or InvalidOperationException or KeyNotFoundException or Avro.AvroException or DecoderFallbackException)
        {
            CountUnreadable();
        }
    }

    private void Raw(ConsumeResult<byte[]?, byte[]?> record, List<WebhookRow> webhooks, List<LiveNote> notes)
    {
        var message = record.Message;
        var headers = message.Headers ?? [];
        var body = message.Value ?? [];
        var source = headers.Text(HeaderNames.SourceId) ?? "";
        var receivedAt = headers.TryGetLastBytes(HeaderNames.ReceivedAt, out var at) && ReceivedAtHeader.TryDecode(at, out var instant)
            ? instant.ToUnixTimeMilliseconds()
            : message.Timestamp.UnixTimestampMs;
        string? eventId = null, messageId = null, email = null, eventName = null;
        if (ReportingWebhookParser.TryParse(body, out var parsed, out _))
        {
            eventId = TextOf(body, parsed[WebhookField.EventId]);
            messageId = Encoding.UTF8.GetString(_messageId, 0, MessageIds.Write(body, parsed[WebhookField.EventId], _messageId));
            var objectType = TextOf(body, parsed[WebhookField.ObjectType]);
            var metric = TextOf(body, parsed[WebhookField.Metric]);
            email = TextOf(body, parsed.Email(objectType == "email"));
            eventName = objectType is not null && metric is not null && objectType.Length <= EventNames.MaxPartBytes && metric.Length <= EventNames.MaxPartBytes
                ? EventNames.Of(objectType, metric) is { Length: > 0 } name ? name : null
                : null;
        }

        var person = message.Key is { } key ? Encoding.UTF8.GetString(key) : eventId ?? "";
        var row = new WebhookRow(
            Ids.Webhook(record.Partition.Value, record.Offset.Value), source, eventId, messageId, person, email, eventName, receivedAt,
            record.Partition.Value, record.Offset.Value, body.Length, headers.Text(HeaderNames.ReplayedFrom));
        webhooks.Add(row);
        notes.Add(new LiveNote(source, record.Partition.Value + "-" + record.Offset.Value, eventId, messageId, person, eventName, Outcomes.Stored, 0, null, receivedAt));
    }

    private static void Outcome(ConsumeResult<byte[]?, byte[]?> record, List<Fact> facts, List<LiveNote> notes)
    {
        string? source = null, outcome = null, reason = null;
        int? partition = null;
        long? offset = null;
        var reader = new Utf8JsonReader(record.Message.Value ?? []);
        Expect(ref reader, JsonTokenType.StartObject);
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var name = reader.ValueSpan;
            reader.Read();
            if (name.SequenceEqual("source"u8))
            {
                source = reader.GetString();
            }
            else if (name.SequenceEqual("outcome"u8))
            {
                outcome = reader.GetString();
            }
            else if (name.SequenceEqual("reason"u8))
            {
                reason = reader.GetString();
            }
            else if (name.SequenceEqual("partition"u8))
            {
                partition = reader.GetInt32();
            }
            else if (name.SequenceEqual("offset"u8))
            {
                offset = reader.GetInt64();
            }
            else
            {
                reader.Skip();
            }
        }

        var kind = outcome switch
        {
            "filtered" => FactKind.Filtered,
            "deduplicated" => FactKind.Deduplicated,
            _ => throw new InvalidDataException("Unknown outcome " + outcome),
        };
        if (partition is not { } p || offset is not { } o)
        {
            throw new InvalidDataException("An outcome record without the raw record's partition and offset.");
        }

        var at = record.Message.Timestamp.UnixTimestampMs;
        facts.Add(new Fact(Ids.Webhook(p, o), null, kind, 0, 0, reason, at, TopicCode.Outcomes, record.Partition.Value, record.Offset.Value, null));
        notes.Add(new LiveNote(source ?? "", p + "-" + o, null, null, Key(record), null, outcome!, 0, reason, at));
    }

    private static void WebhookDeadLetter(ConsumeResult<byte[]?, byte[]?> record, List<Fact> facts, List<LiveNote> notes)
    {
        var headers = record.Message.Headers ?? [];
        var partition = int.Parse(headers.Text(HeaderNames.DeadLetterSourcePartition) ?? throw new InvalidDataException("no source partition"), System.Globalization.CultureInfo.InvariantCulture);
        var offset = long.Parse(headers.Text(HeaderNames.DeadLetterSourceOffset) ?? throw new InvalidDataException("no source offset"), System.Globalization.CultureInfo.InvariantCulture);
        var reason = headers.Text(HeaderNames.DeadLetterReason);
        var at = record.Message.Timestamp.UnixTimestampMs;
        facts.Add(new Fact(Ids.Webhook(partition, offset), null, FactKind.TransformDeadLettered, 0, 0, reason, at, TopicCode.WebhooksDeadLetter, record.Partition.Value, record.Offset.Value, null));
        notes.Add(new LiveNote(headers.Text(HeaderNames.SourceId) ?? "", partition + "-" + offset, null, null, Key(record), null, Outcomes.DeadLettered, 0, reason, at));
    }

    private void Track(TopicCode topic, ConsumeResult<byte[]?, byte[]?> record, List<Fact> facts, List<LiveNote> notes)
    {
        var view = sinkRecords.Deserialize(record.Message.Value ?? ReadOnlySpan<byte>.Empty, record.Message.Value is null, new SerializationContext(MessageComponentType.Value, record.Topic, record.Message.Headers));
        var at = record.Message.Timestamp.UnixTimestampMs;
        var held = topic == TopicCode.Held;
        facts.Add(new Fact(null, Ids.Message(view.SourceId, view.MessageId), held ? FactKind.Held : FactKind.Mapped, 0, 0, null, at, topic, record.Partition.Value, record.Offset.Value,
            held ? view.SourceId + "\n" + view.MessageId : null));
        notes.Add(new LiveNote(view.SourceId, null, null, view.MessageId, view.PersonKey, view.Event, held ? Outcomes.Held : Outcomes.Mapped, 0, null, at));
    }

    private static void SegmentDeadLetter(ConsumeResult<byte[]?, byte[]?> record, List<Fact> facts, List<LiveNote> notes)
    {
        var headers = record.Message.Headers ?? [];
        var source = headers.Text(HeaderNames.SourceId) ?? "";
        string? messageId = null;
        var reader = new Utf8JsonReader(record.Message.Value ?? []);
        if (reader.Read() && reader.TokenType == JsonTokenType.StartObject)
        {
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isMessageId = reader.ValueTextEquals("messageId"u8);
                reader.Read();
                if (isMessageId && reader.TokenType == JsonTokenType.String)
                {
                    messageId = reader.GetString();
                    break;
                }

                reader.Skip();
            }
        }

        if (messageId is null)
        {
            throw new InvalidDataException("A Segment dead letter without a messageId.");
        }

        var reason = headers.Text(HeaderNames.DeadLetterReason);
        var at = record.Message.Timestamp.UnixTimestampMs;
        facts.Add(new Fact(null, Ids.Message(source, messageId), FactKind.PublishDeadLettered, 0, 0, reason, at, TopicCode.SegmentDeadLetter, record.Partition.Value, record.Offset.Value, source + "\n" + messageId));
        notes.Add(new LiveNote(source, null, null, messageId, Key(record), null, Outcomes.DeadLettered, 0, reason, at));
    }

    /// <summary>One line of the delivery log (<c>DeliveryLog</c>): a fact per event of the request.</summary>
    private static void Deliveries(ConsumeResult<byte[]?, byte[]?> record, List<Fact> facts, List<LiveNote> notes)
    {
        string? source = null;
        int? status = null;
        var attempt = 0;
        var held = false;
        var at = record.Message.Timestamp.UnixTimestampMs;
        var events = new List<(string MessageId, bool Held, int Partition, long Offset)>();
        var reader = new Utf8JsonReader(record.Message.Value ?? []);
        Expect(ref reader, JsonTokenType.StartObject);
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var name = reader.ValueSpan;
            reader.Read();
            if (name.SequenceEqual("source"u8))
            {
                source = reader.GetString();
            }
            else if (name.SequenceEqual("status"u8))
            {
                status = reader.GetInt32();
            }
            else if (name.SequenceEqual("attempt"u8))
            {
                attempt = reader.GetInt32();
            }
            else if (name.SequenceEqual("path"u8))
            {
                held = reader.ValueTextEquals("held"u8);
            }
            else if (name.SequenceEqual("at"u8))
            {
                at = reader.GetDateTimeOffset().ToUnixTimeMilliseconds();
            }
            else if (name.SequenceEqual("events"u8) && reader.TokenType == JsonTokenType.StartArray)
            {
                while (reader.Read() && reader.TokenType == JsonTokenType.StartObject)
                {
                    string? messageId = null;
                    var eventHeld = false;
                    int partition = 0;
                    long offset = 0;
                    while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                    {
                        var field = reader.ValueSpan;
                        reader.Read();
                        if (field.SequenceEqual("messageId"u8))
                        {
                            messageId = reader.GetString();
                        }
                        else if (field.SequenceEqual("topic"u8))
                        {
                            eventHeld = reader.ValueTextEquals(Topics.SegmentHeld);
                        }
                        else if (field.SequenceEqual("partition"u8))
                        {
                            partition = reader.GetInt32();
                        }
                        else if (field.SequenceEqual("offset"u8))
                        {
                            offset = reader.GetInt64();
                        }
                        else
                        {
                            reader.Skip();
                        }
                    }

                    events.Add((messageId ?? throw new InvalidDataException("A delivery log event without a messageId."), eventHeld, partition, offset));
                }
            }
            else
            {
                reader.Skip();
            }
        }

        if (source is null || status is not { } answer)
        {
            throw new InvalidDataException("A delivery log line without its source or status.");
        }

        foreach (var (messageId, eventHeld, partition, offset) in events)
        {
            facts.Add(new Fact(null, Ids.Message(source, messageId), FactKind.Attempt, answer, attempt, null, at, held || eventHeld ? TopicCode.Held : TopicCode.Sink, partition, offset, null));
            notes.Add(new LiveNote(source, null, null, messageId, null, null, answer is >= 200 and < 300 ? Outcomes.Delivered : "attempt", answer, null, at));
        }
    }

    private static void Expect(ref Utf8JsonReader reader, JsonTokenType token)
    {
        if (!reader.Read() || reader.TokenType != token)
        {
            throw new InvalidDataException($"Expected a JSON {token}.");
        }
    }

    private static string? TextOf(ReadOnlySpan<byte> body, JsonSlice slice)
    {
        if (!slice.IsIdentifier)
        {
            return null;
        }

        var buffer = slice.Length <= 512 ? stackalloc byte[slice.Length] : new byte[slice.Length];
        return slice.TryCopyText(body, buffer, out var n) ? Encoding.UTF8.GetString(buffer[..n]) : null;
    }

    private static string? Key(ConsumeResult<byte[]?, byte[]?> record) => record.Message.Key is { } k ? Encoding.UTF8.GetString(k) : null;
}
