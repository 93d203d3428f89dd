using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics.Metrics;
using System.Text;
using System.Text.Json;
using CioSegment.Contracts;
using CioSegment.Mapping;
using CioSegment.Mapping.Settings;
using CioSegment.ServiceDefaults;
using Confluent.Kafka;

namespace CioSegment.Processor.Transform;

/// <summary>A record the transformer writes: to the sink, the dead-letter topic or the changelog.</summary>
public sealed record OutboundRecord(string Topic, int? Partition, byte[]? Key, byte[]? Value, Headers Headers);

/// <summary>What happened to one raw webhook.</summary>
public enum TransformOutcome
{
    Mapped,
    Filtered,
    Deduplicated,
    DeadLettered,
}

/// <summary>
/// One raw webhook record in, zero or more records out, in this order (docs/mapping.md): source lookup,
/// parse, settings filter, retry dedup, map, send-frequency dedup. Pure apart from the dedup state it is given,
/// where the keys it remembers stay pending: the consumer loop decides when the outputs and the state (with its
/// changelog, <see cref="ChangeLoggedDedupStore"/>) become durable.
/// </summary>
public sealed class WebhookTransformer
{
    public const string Stage = "transform";

    private readonly SourceCatalog _sources;
    private readonly TransformerOptions _options;
    private readonly ISerializer<SegmentTrackRecord> _sinkSerializer;
    private readonly SegmentTrackMapper _mapper = new();
    private readonly ArrayBufferWriter<byte> _track = new(8192);
    private readonly Counter<long> _events;
    private readonly Counter<long> _contentOmitted;
    private readonly long _dedupHorizonMs;
    private readonly long _firstHorizonMs;

    public WebhookTransformer(SourceCatalog sources, TransformerOptions options, ISerializer<SegmentTrackRecord> sinkSerializer, Meter meter)
    {
        _sources = sources;
        _options = options;
        _sinkSerializer = sinkSerializer;
        _dedupHorizonMs = (long)options.DedupHorizon.TotalMilliseconds;
        _firstHorizonMs = (long)options.FirstOccurrenceHorizon.TotalMilliseconds;
        _events = meter.CreateCounter<long>("cio.transformer.events", "{event}", "Raw webhooks by outcome (mapped, filtered, deduplicated, dead_lettered) and reason.");
        _contentOmitted = meter.CreateCounter<long>("cio.transformer.content_omitted", "{event}", "Track events sent without properties.content because with it they were over Segment's 32 KB limit, by source.");
    }

    public TransformOutcome Process(ConsumeResult<byte[]?, byte[]> record, DedupStore state, List<OutboundRecord> output)
    {
        var message = record.Message;
        var body = message.Value ?? [];
        var partition = record.Partition.Value;

        if (!message.Headers.TryGetLastBytes(HeaderNames.SourceId, out var sourceBytes) || sourceBytes.Length == 0)
        {
            return DeadLetter(record, "missing_header:" + HeaderNames.SourceId, "The record has no source id header; it was not written by the ingest.", output);
        }

        var sourceId = Encoding.UTF8.GetString(sourceBytes);
        if (!_sources.TryGetIncludingRemoved(sourceId, out var settings))
        {
            return DeadLetter(record, DeadLetterReasons.UnknownSource, "No source is configured under the id in the record's header; configure it and replay the dead letter.", output);
        }

        var receivedAt = ReceivedAt(message);
        var nowMs = message.Timestamp.UnixTimestampMs > 0 ? message.Timestamp.UnixTimestampMs : receivedAt.ToUnixTimeMilliseconds();

        if (!ReportingWebhookParser.TryParse(body, out var parsed, out var parseError))
        {
            return DeadLetter(record, parseError.Reason, parseError.Detail, output);
        }

        _track.ResetWrittenCount();
        var result = _mapper.Map(body, in parsed, settings, receivedAt, _track);
        if (result.Outcome == MapOutcome.Skipped)
        {
            return Dropped(record, sourceId, TransformOutcome.Filtered, result.SkipReason.Code(), output);
        }

        // Retry dedup: the same event_id (or, without one, the same body) for this source. A dead letter
        // written back on purpose (replay) is not a retry: it was remembered when it was dead-lettered.
        var eventId = parsed[WebhookField.EventId];
        var eventKey = DedupKey.ForEvent(sourceId, eventId.IsIdentifier ? eventId.Content(body) : body);
        var replayed = message.Headers.TryGetLastBytes(HeaderNames.ReplayedFrom, out _);
        if (!replayed && state.Contains(partition, eventKey, nowMs))
        {
            return Dropped(record, sourceId, TransformOutcome.Deduplicated, "event_id", output);
        }

        if (result.Outcome == MapOutcome.Failed)
        {
            state.Add(partition, eventKey, nowMs + _dedupHorizonMs);
            return DeadLetter(record, result.Error!.Value.Reason, result.Error.Value.Detail, output);
        }

        // Send frequency First: only the first (delivery_id, metric) of a source passes.
        var deliveryId = parsed[WebhookField.DeliveryId];
        DedupKey? firstKey = null;
        if (settings.SendFrequency == SendFrequency.First && deliveryId.IsIdentifier)
        {
            firstKey = DedupKey.ForFirst(sourceId, deliveryId.Content(body), parsed[WebhookField.Metric].Content(body));
            if (state.Contains(partition, firstKey.Value, nowMs))
            {
                return Dropped(record, sourceId, TransformOutcome.Deduplicated, "send_frequency_first", output);
            }
        }

        var messageId = Encoding.UTF8.GetString(_mapper.LastMessageId);
        var sink = new SegmentTrackRecord
        {
            SourceId = sourceId,
            MessageId = messageId,
            PersonKey = message.Key is { } k ? Encoding.UTF8.GetString(k) : messageId,
            Event = Encoding.UTF8.GetString(_mapper.LastEventName),
            ReceivedAt = receivedAt.UtcDateTime,
            TrackJson = _track.WrittenSpan.ToArray(),
        };
        var headers = new Headers { { HeaderNames.SourceId, sourceBytes } };
        CopyHeader(message.Headers, headers, HeaderNames.ReceivedAt);
        MessagingTelemetry.Propagate(message.Headers, headers);
        var value = _sinkSerializer.Serialize(sink, new SerializationContext(MessageComponentType.Value, _options.SinkTopic, headers));
        output.Add(new OutboundRecord(_options.SinkTopic, null, message.Key ?? Encoding.UTF8.GetBytes(messageId), value, headers));

        state.Add(partition, eventKey, nowMs + _dedupHorizonMs);
        if (firstKey is { } first)
        {
            state.Add(partition, first, nowMs + _firstHorizonMs);
        }

        Count(TransformOutcome.Mapped, result.UsedReceivedTime ? "timestamp_from_received_at" : "ok");
        if (result.ContentOmitted)
        {
            _contentOmitted.Add(1, new KeyValuePair<string, object?>("source", sourceId));
        }

        return TransformOutcome.Mapped;
    }

    /// <summary>
    /// A webhook dropped on purpose: counted, and recorded on <see cref="TransformerOptions.OutcomesTopic"/> as
    /// <c>{"source","outcome","reason","partition","offset"}</c> (the raw record's coordinates), keyed like it.
    /// </summary>
    private TransformOutcome Dropped(ConsumeResult<byte[]?, byte[]> record, string sourceId, TransformOutcome outcome, string reason, List<OutboundRecord> output)
    {
        Count(outcome, reason);
        if (!string.IsNullOrEmpty(_options.OutcomesTopic))
        {
            var buffer = new ArrayBufferWriter<byte>(160);
            using (var json = new Utf8JsonWriter(buffer))
            {
                json.WriteStartObject();
                json.WriteString("source"u8, sourceId);
                json.WriteString("outcome"u8, OutcomeName(outcome));
                json.WriteString("reason"u8, reason);
                json.WriteNumber("partition"u8, record.Partition.Value);
                json.WriteNumber("offset"u8, record.Offset.Value);
                json.WriteEndObject();
            }

            output.Add(new OutboundRecord(_options.OutcomesTopic, null, record.Message.Key, buffer.WrittenSpan.ToArray(), []));
        }

        return outcome;
    }

    private TransformOutcome DeadLetter(ConsumeResult<byte[]?, byte[]> record, string reason, string detail, List<OutboundRecord> output)
    {
        var headers = DeadLetters.Headers(record.Message.Headers, reason, detail, Stage, record.TopicPartitionOffset);
        output.Add(new OutboundRecord(_options.DeadLetterTopic, null, record.Message.Key, record.Message.Value, headers));
        Count(TransformOutcome.DeadLettered, reason.StartsWith(DeadLetterReasons.MissingFieldPrefix, StringComparison.Ordinal) || reason.StartsWith(DeadLetterReasons.InvalidFieldPrefix, StringComparison.Ordinal) ? reason[..reason.IndexOf(':', StringComparison.Ordinal)] : reason);
        return TransformOutcome.DeadLettered;
    }

    private void Count(TransformOutcome outcome, string reason) =>
        _events.Add(1, new KeyValuePair<string, object?>("outcome", OutcomeName(outcome)), new KeyValuePair<string, object?>("reason", reason));

    public static string OutcomeName(TransformOutcome outcome) => outcome switch
    {
        TransformOutcome.Mapped => "mapped",
        TransformOutcome.Filtered => "filtered",
        TransformOutcome.Deduplicated => "deduplicated",
        _ => "dead_lettered",
    };

    private static DateTimeOffset ReceivedAt(Message<byte[]?, byte[]> message)
    {
        if (message.Headers.TryGetLastBytes(HeaderNames.ReceivedAt, out var bytes) && ReceivedAtHeader.TryDecode(bytes, out var at))
        {
            return at;
        }

        return message.Timestamp.UnixTimestampMs > 0
            ? DateTimeOffset.FromUnixTimeMilliseconds(message.Timestamp.UnixTimestampMs)
            : DateTimeOffset.UtcNow;
    }

    private static void CopyHeader(Headers from, Headers to, string name)
    {
        if (from.TryGetLastBytes(name, out var value))
        {
            to.Add(name, value);
        }
    }
}
