using System.Globalization;
using System.Text;
using System.Text.Json;
using CioSegment.Contracts;
using CioSegment.Processor.Publish;
using CioSegment.Processor.Transform;
using CioSegment.ServiceDefaults;
using Confluent.Kafka;

namespace CioSegment.Processor.Replay;

/// <summary>What to replay, and where to.</summary>
/// <param name="Stage">Whose dead letters: <see cref="WebhookTransformer.Stage"/> (raw webhooks, back to the raw topic) or <see cref="BatchPublisher.Stage"/> (track events Segment refused, back to the sink topic).</param>
/// <param name="Since">Only dead letters written at or after this instant.</param>
/// <param name="Until">Only dead letters written before this instant.</param>
/// <param name="Only">Only the dead letters at these coordinates (the inspector's Replay button).</param>
public sealed record ReplayRequest(
    string From,
    string To,
    IReadOnlyList<string> Reasons,
    IReadOnlyList<string> Sources,
    long? Limit,
    bool DryRun,
    string Stage = WebhookTransformer.Stage,
    DateTimeOffset? Since = null,
    DateTimeOffset? Until = null,
    IReadOnlyCollection<TopicPartitionOffset>? Only = null);

/// <summary>What a replay did.</summary>
public sealed record ReplayResult(long Read, long Matched, long Replayed, long BodyOmitted, IReadOnlyDictionary<string, long> ByReason);

/// <summary>
/// Writes dead letters back where they came from once the cause is fixed, the dead letter's own headers
/// removed and <see cref="HeaderNames.ReplayedFrom"/> added:
/// <list type="bullet">
/// <item><c>transform</c>: raw webhooks of the transformer's dead-letter topic back to the raw topic (cause:
/// configuration, mapping), key, body and the ingest's headers as they were; the header keeps the transformer
/// from dropping them as retries.</item>
/// <item><c>publish</c>: track events Segment refused (<c>segment_rejected</c>, <c>unknown_source</c>) back to
/// the sink topic as the sink record they were (Avro, through the Schema Registry), keyed by person, with
/// their messageId, so Segment still drops what it already stored.</item>
/// </list>
/// Reads each partition from its start up to the end it had when the replay began (dead letters that the
/// replay itself causes are not read again), with no consumer group: nothing is committed, so a replay can be
/// repeated. A dead letter of the other stage stops the replay: each stage's records only fit its own topic.
/// </summary>
public static class DeadLetterReplay
{
    /// <param name="sinkSerializer">For <c>publish</c>: writes the sink record (the processor's serializer over the Schema Registry).</param>
    public static ReplayResult Run(KafkaClientFactory kafka, ReplayRequest request, TextWriter log, CancellationToken cancel, ISerializer<SegmentTrackRecord>? sinkSerializer = null)
    {
        if (request.Stage == BatchPublisher.Stage && sinkSerializer is null && !request.DryRun)
        {
            throw new InvalidOperationException("Replaying the publisher's dead letters writes sink records: a Schema Registry is needed (CioSegment__SchemaRegistry__Url or --schema-registry-url).");
        }

        using var consumer = kafka.Consumer<byte[]?, byte[]?>("cio-replay", new ConsumerConfig
        {
            GroupId = "cio-replay-" + Guid.NewGuid().ToString("N"),
            EnableAutoCommit = false,
            EnableAutoOffsetStore = false,
            IsolationLevel = IsolationLevel.ReadCommitted,
        }).Build();

        // The end of every partition now: what the replay reads.
        var ends = new Dictionary<int, long>();
        using (var admin = new DependentAdminClientBuilder(consumer.Handle).Build())
        {
            var metadata = admin.GetMetadata(request.From, TimeSpan.FromSeconds(30));
            var topic = metadata.Topics.SingleOrDefault(t => t.Topic == request.From);
            if (topic is null || topic.Error.IsError || topic.Partitions.Count == 0)
            {
                throw new InvalidOperationException($"Topic {request.From} was not found ({topic?.Error.Reason ?? "no metadata"}).");
            }

            foreach (var partition in topic.Partitions)
            {
                var watermarks = consumer.QueryWatermarkOffsets(new TopicPartition(request.From, partition.PartitionId), TimeSpan.FromSeconds(30));
                if (watermarks.High.Value > watermarks.Low.Value)
                {
                    ends[partition.PartitionId] = watermarks.High.Value;
                }
            }
        }

        using var producer = request.DryRun ? null : kafka.Producer<byte[]?, byte[]?>("cio-replay", new ProducerConfig
        {
            Acks = Acks.All,
            EnableIdempotence = true,
            MessageMaxBytes = KafkaLimits.MaxRecordBytes,
        }).Build();

        long read = 0, matched = 0, replayed = 0, omitted = 0;
        var byReason = new SortedDictionary<string, long>(StringComparer.Ordinal);
        Error? deliveryError = null;
        consumer.Assign(ends.Keys.Select(p => new TopicPartitionOffset(request.From, p, Offset.Beginning)));
        var open = new HashSet<int>(ends.Keys);
        while (open.Count > 0 && !cancel.IsCancellationRequested && (request.Limit is not { } limit || matched < limit))
        {
            var record = consumer.Consume(TimeSpan.FromSeconds(1));
            if (record is null)
            {
                // Transaction markers or compacted gaps can leave a partition short of its end offset.
                foreach (var p in open.ToList())
                {
                    if (consumer.Position(new TopicPartition(request.From, p)).Value >= ends[p])
                    {
                        open.Remove(p);
                    }
                }

                continue;
            }

            var partition = record.Partition.Value;
            if (record.Offset.Value >= ends[partition])
            {
                open.Remove(partition);
                consumer.Pause([record.TopicPartition]);
                continue;
            }

            if (record.Offset.Value + 1 >= ends[partition])
            {
                open.Remove(partition);
            }

            read++;
            var headers = record.Message.Headers ?? [];
            var stage = headers.Text(HeaderNames.DeadLetterStage);
            if (stage is not null && stage != request.Stage)
            {
                throw new InvalidOperationException(
                    $"{request.From} holds dead letters of the '{stage}' stage ({record.TopicPartitionOffset}); this replay is for the '{request.Stage}' stage (--stage {stage} replays them, from their own topic).");
            }

            var written = record.Message.Timestamp.UtcDateTime;
            if ((request.Since is { } since && written < since.UtcDateTime) || (request.Until is { } until && written >= until.UtcDateTime))
            {
                continue;
            }

            if (request.Only is { } only && !only.Contains(record.TopicPartitionOffset))
            {
                continue;
            }

            var reason = headers.Text(HeaderNames.DeadLetterReason) ?? "";
            var source = headers.Text(HeaderNames.SourceId) ?? "";
            if ((request.Reasons.Count > 0 && !request.Reasons.Any(r => reason.StartsWith(r, StringComparison.Ordinal)))
                || (request.Sources.Count > 0 && !request.Sources.Contains(source, StringComparer.Ordinal)))
            {
                continue;
            }

            matched++;
            byReason[reason] = byReason.GetValueOrDefault(reason) + 1;
            if (record.Message.Value is null || headers.TryGetLastBytes(HeaderNames.DeadLetterBodyOmitted, out _))
            {
                omitted++;
                log.WriteLine($"skipped {record.TopicPartitionOffset}: parked without its body (it was too large for Kafka)");
                continue;
            }

            if (producer is null)
            {
                continue;
            }

            var replay = new Headers();
            foreach (var header in headers)
            {
                if (!header.Key.StartsWith(HeaderNames.DeadLetterPrefix, StringComparison.Ordinal) && header.Key != HeaderNames.ReplayedFrom)
                {
                    replay.Add(header.Key, header.GetValueBytes());
                }
            }

            replay.Add(HeaderNames.ReplayedFrom, Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{record.Topic}/{partition}/{record.Offset.Value}")));
            var value = request.Stage == BatchPublisher.Stage
                ? SinkRecord(record, headers, sinkSerializer!, request.To, replay)
                : record.Message.Value;
            producer.Produce(request.To, new Message<byte[]?, byte[]?> { Key = record.Message.Key, Value = value, Headers = replay }, report =>
            {
                if (report.Error.IsError)
                {
                    deliveryError ??= report.Error;
                }
            });
            replayed++;
        }

        if (producer is not null && producer.Flush(TimeSpan.FromSeconds(60)) > 0)
        {
            throw new KafkaException(new Error(ErrorCode.Local_TimedOut, "Replayed records were not acknowledged within 60 s; run the replay again (what was written twice reaches Segment under the same messageId, which Segment drops)."));
        }

        if (deliveryError is not null)
        {
            throw new KafkaException(deliveryError);
        }

        consumer.Close();
        return new ReplayResult(read, matched, request.DryRun ? 0 : replayed, omitted, byReason);
    }

    /// <summary>The sink record a Segment dead letter came from: its track JSON, source, person, messageId, event and receipt time.</summary>
    private static byte[] SinkRecord(ConsumeResult<byte[]?, byte[]?> record, Headers headers, ISerializer<SegmentTrackRecord> serializer, string topic, Headers replay)
    {
        var track = record.Message.Value!;
        string? messageId = null, eventName = null;
        var reader = new Utf8JsonReader(track);
        if (reader.Read() && reader.TokenType == JsonTokenType.StartObject)
        {
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var name = reader.GetString();
                reader.Read();
                if (reader.TokenType == JsonTokenType.String && name is "messageId" or "event")
                {
                    if (name == "messageId")
                    {
                        messageId = reader.GetString();
                    }
                    else
                    {
                        eventName = reader.GetString();
                    }
                }
                else
                {
                    reader.Skip();
                }
            }
        }

        var receivedAt = headers.TryGetLastBytes(HeaderNames.ReceivedAt, out var at) && ReceivedAtHeader.TryDecode(at, out var instant) ? instant : new DateTimeOffset(record.Message.Timestamp.UtcDateTime);
        return serializer.Serialize(
            new SegmentTrackRecord
            {
                SourceId = headers.Text(HeaderNames.SourceId) ?? "",
                MessageId = messageId ?? throw new InvalidOperationException($"{record.TopicPartitionOffset} holds no track event with a messageId; it cannot be replayed to {topic}."),
                PersonKey = record.Message.Key is { } key ? Encoding.UTF8.GetString(key) : "",
                Event = eventName ?? "",
                ReceivedAt = receivedAt.UtcDateTime,
                TrackJson = track,
            },
            new SerializationContext(MessageComponentType.Value, topic, replay));
    }
}
