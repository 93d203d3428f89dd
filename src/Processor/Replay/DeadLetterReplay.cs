using System.Globalization;
using System.Text;
using CioSegment.Contracts;
using CioSegment.Processor.Transform;
using CioSegment.ServiceDefaults;
using Confluent.Kafka;

namespace CioSegment.Processor.Replay;

/// <summary>What to replay, and where to.</summary>
public sealed record ReplayRequest(
    string From,
    string To,
    IReadOnlyList<string> Reasons,
    IReadOnlyList<string> Sources,
    long? Limit,
    bool DryRun);

/// <summary>What a replay did.</summary>
public sealed record ReplayResult(long Read, long Matched, long Replayed, long BodyOmitted, IReadOnlyDictionary<string, long> ByReason);

/// <summary>
/// Writes raw webhooks parked in the transformer's dead-letter topic back to the raw topic, once the cause
/// (configuration, mapping) is fixed: key, body and the ingest's headers as they were, the dead letter's own
/// headers removed, and <see cref="HeaderNames.ReplayedFrom"/> added so the transformer does not drop them as
/// retries. Reads each partition from its start up to the end it had when the replay began (dead letters that
/// the replay itself causes are not read again), with no consumer group: nothing is committed, so a replay
/// can be repeated. Only dead letters of the <c>transform</c> stage: Segment's rejections hold track JSON.
/// </summary>
public static class DeadLetterReplay
{
    public static ReplayResult Run(KafkaClientFactory kafka, ReplayRequest request, TextWriter log, CancellationToken cancel)
    {
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
            var stage = Text(headers, HeaderNames.DeadLetterStage);
            if (stage is not null && stage != WebhookTransformer.Stage)
            {
                throw new InvalidOperationException(
                    $"{request.From} holds dead letters of the '{stage}' stage ({record.TopicPartitionOffset}); only the transformer's dead letters (raw webhooks) can be replayed to {request.To}.");
            }

            var reason = Text(headers, HeaderNames.DeadLetterReason) ?? "";
            var source = Text(headers, HeaderNames.SourceId) ?? "";
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
            producer.Produce(request.To, new Message<byte[]?, byte[]?> { Key = record.Message.Key, Value = record.Message.Value, Headers = replay }, report =>
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

    private static string? Text(Headers headers, string name) =>
        headers.TryGetLastBytes(name, out var bytes) ? Encoding.UTF8.GetString(bytes) : null;
}
