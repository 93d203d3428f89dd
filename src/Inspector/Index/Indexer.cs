using System.Diagnostics.Metrics;
using CioSegment.ServiceDefaults;
using Confluent.Kafka;
using Microsoft.Extensions.Options;

namespace CioSegment.Inspector.Index;

/// <summary>
/// Follows the pipeline's topics (raw, transform outcomes, sink, held, both dead-letter topics, the delivery log)
/// with a consumer that joins no group and commits nothing: the index stores where it is in each partition in the
/// same SQLite transaction as the rows, so after a restart it goes on exactly where it ended. A new index starts
/// <see cref="InspectorOptions.Retention"/> back, and records older than that are skipped. Partitions and topics that appear later are picked up every
/// 30 s. A temporary fault (the Schema Registry for sink records) rewinds to the record and tries again: nothing
/// is skipped for it.
/// </summary>
public sealed class Indexer(
    EventIndex index,
    LiveFeed live,
    KafkaClientFactory kafka,
    RecordInterpreter interpreter,
    IOptions<InspectorOptions> options,
    Meter meter,
    ILogger<Indexer> logger,
    TimeProvider? time = null) : BackgroundService
{
    private static readonly TimeSpan Rediscover = TimeSpan.FromSeconds(30);
    private readonly InspectorOptions _options = options.Value;
    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly Counter<long> _records = meter.CreateCounter<long>("cio.inspector.records", "{record}", "Records indexed, by topic.");
    private readonly ObservableGauge<long> _webhooks = meter.CreateObservableGauge("cio.inspector.webhooks", () => index.WebhookCount, "{webhook}", "Webhooks in the inspector's index.");
    private readonly ObservableCounter<long> _unreadable = meter.CreateObservableCounter("cio.inspector.unreadable", () => interpreter.Unreadable, "{record}", "Records the inspector could not read and skipped (the pipeline's own outcome is not affected).");
    private readonly Dictionary<string, TopicCode> _topics = [];
    private readonly HashSet<TopicPartition> _assigned = [];

    /// <summary>Records indexed since start (tests and the benchmark wait on it).</summary>
    public long Indexed => Interlocked.Read(ref _indexed);

    private long _indexed;

    protected override Task ExecuteAsync(CancellationToken stoppingToken) => Task.Factory.StartNew(() => Run(stoppingToken), stoppingToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    private void Run(CancellationToken stop)
    {
        foreach (var (name, code) in new[]
        {
            (_options.RawTopic, TopicCode.Raw), (_options.OutcomesTopic, TopicCode.Outcomes), (_options.SinkTopic, TopicCode.Sink),
            (_options.HeldTopic, TopicCode.Held), (_options.WebhooksDeadLetterTopic, TopicCode.WebhooksDeadLetter),
            (_options.SegmentDeadLetterTopic, TopicCode.SegmentDeadLetter), (_options.DeliveriesTopic, TopicCode.Deliveries),
        })
        {
            if (!string.IsNullOrEmpty(name))
            {
                _topics[name] = code;
            }
        }

        using var consumer = kafka.Consumer<byte[]?, byte[]?>("cio-inspector", new ConsumerConfig
        {
            GroupId = "cio-inspector-unused",
            EnableAutoCommit = false,
            EnableAutoOffsetStore = false,
            IsolationLevel = IsolationLevel.ReadCommitted,
        }).Build();

        var webhooks = new List<WebhookRow>();
        var facts = new List<Fact>();
        var notes = new List<LiveNote>();
        var positions = new Dictionary<(string, int), long>();
        var batch = new List<ConsumeResult<byte[]?, byte[]?>>();
        var nextDiscovery = DateTimeOffset.MinValue;
        while (!stop.IsCancellationRequested)
        {
            try
            {
                if (_time.GetUtcNow() >= nextDiscovery)
                {
                    Discover(consumer);
                    nextDiscovery = _time.GetUtcNow() + Rediscover;
                }

                if (_assigned.Count == 0)
                {
                    stop.WaitHandle.WaitOne(TimeSpan.FromSeconds(1));
                    continue;
                }

                batch.Clear();
                var deadline = _time.GetUtcNow() + _options.BatchInterval;
                while (batch.Count < _options.BatchRecords && !stop.IsCancellationRequested)
                {
                    var wait = deadline - _time.GetUtcNow();
                    var record = consumer.Consume(batch.Count == 0 ? TimeSpan.FromMilliseconds(500) : wait > TimeSpan.Zero ? wait : TimeSpan.Zero);
                    if (record is null)
                    {
                        break;
                    }

                    batch.Add(record);
                }

                if (batch.Count == 0)
                {
                    continue;
                }

                webhooks.Clear();
                facts.Clear();
                notes.Clear();
                positions.Clear();
                var done = 0;
                Exception? fault = null;
                var horizon = (_time.GetUtcNow() - _options.Retention).ToUnixTimeMilliseconds();
                foreach (var record in batch)
                {
                    try
                    {
                        if (record.Message.Timestamp.UnixTimestampMs >= horizon)
                        {
                            interpreter.Interpret(_topics[record.Topic], record, webhooks, facts, notes);
                        }
                    }
                    catch (Exception e) when (IsTemporary(e) && !stop.IsCancellationRequested)
                    {
                        fault = e;
                        break;
                    }
                    catch (Exception e) when (!stop.IsCancellationRequested)
                    {
                        // Not a fault that passes: waiting would stall the index on this record for good.
                        interpreter.CountUnreadable();
                        logger.LogError(e, "Could not index {Record}; skipped (counted on cio.inspector.unreadable)", record.TopicPartitionOffset);
                    }

                    positions[(record.Topic, record.Partition.Value)] = record.Offset.Value + 1;
                    done++;
                }

                index.Write(webhooks, facts, positions);
                Interlocked.Add(ref _indexed, done);
                foreach (var group in batch.Take(done).GroupBy(r => r.Topic))
                {
                    _records.Add(group.Count(), new KeyValuePair<string, object?>("topic", group.Key));
                }

                live.Publish(notes);
                if (fault is not null)
                {
                    // Read the rest again once the fault has passed: every partition from its first unindexed record.
                    foreach (var first in batch.Skip(done).GroupBy(r => r.TopicPartition).Select(g => g.First()))
                    {
                        consumer.Seek(first.TopicPartitionOffset);
                    }

                    logger.LogWarning(fault, "Could not index {Record} (a temporary fault, retried in 2 s): {Reason}", batch[done].TopicPartitionOffset, fault.Message);
                    stop.WaitHandle.WaitOne(TimeSpan.FromSeconds(2));
                }
            }
            catch (KafkaException e) when (!e.Error.IsFatal && !stop.IsCancellationRequested)
            {
                logger.LogWarning("Kafka error while indexing (retried): {Reason}", e.Error.Reason);
                stop.WaitHandle.WaitOne(TimeSpan.FromSeconds(1));
            }
        }

        consumer.Close();
    }

    /// <summary>The Schema Registry not answering or refusing (its client throws HttpRequestException: retried, never skipped, as a wrong registry URL or credentials must be fixed, not lost), a timeout.</summary>
    private static bool IsTemporary(Exception e) => e switch
    {
        HttpRequestException or TimeoutException or TaskCanceledException => true,
        AggregateException aggregate => aggregate.InnerExceptions.All(IsTemporary),
        _ => e.InnerException is { } inner && IsTemporary(inner),
    };

    private void Discover(IConsumer<byte[]?, byte[]?> consumer)
    {
        using var admin = new DependentAdminClientBuilder(consumer.Handle).Build();
        var added = new List<TopicPartition>();
        foreach (var topic in _topics.Keys)
        {
            var metadata = admin.GetMetadata(topic, TimeSpan.FromSeconds(10)).Topics.FirstOrDefault(t => t.Topic == topic);
            if (metadata is null || metadata.Error.IsError)
            {
                logger.LogDebug("Topic {Topic} is not there yet ({Reason}); looked for again in {Seconds} s", topic, metadata?.Error.Reason, Rediscover.TotalSeconds);
                continue;
            }

            added.AddRange(metadata.Partitions.Select(p => new TopicPartition(topic, p.PartitionId)).Where(tp => !_assigned.Contains(tp)));
        }

        if (added.Count == 0)
        {
            return;
        }

        var stored = index.Positions();
        var start = new List<TopicPartitionOffset>();
        var fresh = added.Where(tp => !stored.ContainsKey((tp.Topic, tp.Partition.Value))).ToList();
        if (fresh.Count > 0)
        {
            var since = new Timestamp(_time.GetUtcNow() - _options.Retention);
            foreach (var found in consumer.OffsetsForTimes(fresh.Select(tp => new TopicPartitionTimestamp(tp, since)), TimeSpan.FromSeconds(10)))
            {
                // No offset for that time: Kafka means "no record since then", but a broker that cannot look up
                // times (the development broker) says the same; from the beginning then, and records older than
                // the retention are skipped as they are read.
                start.Add(new TopicPartitionOffset(found.TopicPartition, found.Offset.Value >= 0 ? found.Offset : Offset.Beginning));
            }
        }

        start.AddRange(added.Where(tp => stored.ContainsKey((tp.Topic, tp.Partition.Value))).Select(tp => new TopicPartitionOffset(tp, new Offset(stored[(tp.Topic, tp.Partition.Value)]))));
        consumer.IncrementalAssign(start);
        foreach (var tp in start)
        {
            _assigned.Add(tp.TopicPartition);
        }

        logger.LogInformation("Indexing {Count} more partitions ({Topics})", start.Count, string.Join(", ", start.Select(s => s.Topic).Distinct()));
    }
}
