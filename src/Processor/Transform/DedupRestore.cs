using System.Diagnostics;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;

namespace CioSegment.Processor.Transform;

/// <summary>
/// Restores the dedup state of newly assigned partitions from the changelog (same partition number), all of
/// them together, a turn at a time, each partition paused until its state is whole: a partition is never
/// processed with part of its state. A turn ends when a poll brings nothing (caught up with what can be read
/// now, or held behind another producer's open transaction, which keeps the partition paused and is
/// warned about once). Keys whose latest changelog record is an expired value are handed to
/// <paramref name="owe"/> for a tombstone. Used from the consumer loop's thread only.
/// </summary>
internal sealed class DedupRestore(
    IConsumer<byte[]?, byte[]> consumer,
    Func<IConsumer<byte[]?, byte[]?>> createChangelogReader,
    DedupStore state,
    TransformerOptions options,
    ILogger logger,
    TimeProvider time,
    Action<int, DedupKey> owe) : IDisposable
{
    private readonly Dictionary<TopicPartition, Restore> _restores = [];

    /// <summary>Partitions whose state is still being restored.</summary>
    public IReadOnlyCollection<TopicPartition> Partitions => _restores.Keys;

    public bool IsRestoring(TopicPartition tp) => _restores.ContainsKey(tp);

    public void Dispose()
    {
        foreach (var tp in _restores.Keys.ToList())
        {
            Stop(tp);
        }
    }

    /// <summary>How long one RunOnce may spend on restores in progress.</summary>
    public static readonly TimeSpan Slice = TimeSpan.FromMilliseconds(100);

    /// <summary>How long the assignment may wait for restores before the loop goes on with them paused.</summary>
    public static readonly TimeSpan InitialBudget = TimeSpan.FromSeconds(10);

    /// <summary>Starts restoring a newly assigned partition (its state emptied first).</summary>
    public void Start(TopicPartition tp)
    {
        Stop(tp);
        var partition = tp.Partition.Value;
        state.Drop(partition);
        state.Open(partition);
        var changelog = new TopicPartition(options.ChangelogTopic, partition);
        var reader = createChangelogReader();
        var watermarks = reader.QueryWatermarkOffsets(changelog, options.KafkaTimeout);

        // An empty changelog (high <= low) has nothing to read: done at once.
        var high = watermarks.High.Value > watermarks.Low.Value ? watermarks.High.Value : 0;
        reader.Assign(new TopicPartitionOffset(changelog, Offset.Beginning));
        _restores[tp] = new Restore(reader, changelog, high);
    }

    /// <summary>Stops restoring a partition that is revoked or lost.</summary>
    public void Stop(TopicPartition tp)
    {
        if (_restores.Remove(tp, out var restore))
        {
            restore.Reader.Close();
            restore.Reader.Dispose();
        }
    }

    /// <summary>
    /// Reads the changelogs of restoring partitions for up to <paramref name="budget"/>, each poll waiting at
    /// most <paramref name="wait"/>; a partition's turn ends when a poll brings nothing. Resumes the
    /// partitions that are whole.
    /// </summary>
    public void Continue(TimeSpan budget, TimeSpan wait)
    {
        var started = Stopwatch.StartNew();
        var nowMs = time.GetUtcNow().ToUnixTimeMilliseconds();
        foreach (var (tp, restore) in _restores.ToList())
        {
            var partition = tp.Partition.Value;
            while (restore.High > 0 && restore.Reader.Position(restore.Changelog).Value < restore.High)
            {
                if (started.Elapsed >= budget)
                {
                    break;
                }

                var record = restore.Reader.Consume(wait);
                if (record is { IsPartitionEOF: false, Message: not null } && ChangeLoggedDedupStore.TryRead(record, out var key, out var expires))
                {
                    state.Restore(partition, key, expires, nowMs);
                    restore.Records++;

                    // A key whose latest record is an expired value needs a tombstone, or compaction keeps it forever.
                    if (expires is { } e && e <= nowMs)
                    {
                        restore.Expired.Add(key);
                    }
                    else
                    {
                        restore.Expired.Remove(key);
                    }
                }
                else if (record is null)
                {
                    // Nothing within the wait: caught up to what can be read now (or blocked behind an open
                    // transaction); the next turn goes on from here.
                    break;
                }
            }

            var position = restore.Reader.Position(restore.Changelog).Value;
            if (restore.High <= 0 || position >= restore.High)
            {
                foreach (var key in restore.Expired)
                {
                    owe(partition, key);
                }

                Stop(tp);
                if (consumer.Assignment.Contains(tp))
                {
                    consumer.Resume([tp]);
                }

                logger.LogInformation("Restored dedup state of partition {Partition}: {Records} changelog record(s) read in {Seconds:F1} s, {Keys} key(s) held in total.", partition, restore.Records, restore.Since.Elapsed.TotalSeconds, state.Count);
            }
            else if (!restore.Warned && restore.Since.Elapsed >= options.KafkaTimeout)
            {
                // Never process a partition with part of its state: it stays paused until the changelog is read
                // to the end (an open transaction of a fenced or crashed producer holds read_committed readers
                // back until it is aborted, at the latest after transaction.timeout.ms).
                restore.Warned = true;
                logger.LogWarning("Restoring the dedup state of partition {Partition} takes longer than {Timeout}: at changelog offset {Position} of {High}; the partition stays paused until it is complete.", partition, options.KafkaTimeout, position, restore.High);
            }
        }

        PauseRestoring();
    }

    /// <summary>Pauses the restoring partitions that are assigned (idempotent).</summary>
    public void PauseRestoring()
    {
        var pause = _restores.Keys.Where(tp => consumer.Assignment.Contains(tp)).ToList();
        if (pause.Count > 0)
        {
            consumer.Pause(pause);
        }
    }

    private sealed class Restore(IConsumer<byte[]?, byte[]?> reader, TopicPartition changelog, long high)
    {
        public IConsumer<byte[]?, byte[]?> Reader { get; } = reader;

        public TopicPartition Changelog { get; } = changelog;

        public long High { get; } = high;

        public Stopwatch Since { get; } = Stopwatch.StartNew();

        public long Records { get; set; }

        public bool Warned { get; set; }

        /// <summary>Keys whose latest record read so far is an expired value.</summary>
        public HashSet<DedupKey> Expired { get; } = [];
    }
}
