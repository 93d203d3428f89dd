using Confluent.Kafka;

namespace CioSegment.Processor.Publish;

/// <summary>
/// Which offsets of each partition are settled (delivered or dead-lettered). The committable offset of a
/// partition is just past the longest settled prefix, so a crash re-sends at most the unsettled tail.
/// Used from the consumer thread only.
/// </summary>
public sealed class PartitionProgress
{
    private readonly Dictionary<TopicPartition, Track> _partitions = [];

    public void Consumed(TopicPartitionOffset origin)
    {
        if (!_partitions.TryGetValue(origin.TopicPartition, out var track))
        {
            track = new Track();
            _partitions[origin.TopicPartition] = track;
        }

        track.Outstanding.Add(origin.Offset.Value);
        track.Next = Math.Max(track.Next, origin.Offset.Value + 1);
    }

    public void Settled(TopicPartitionOffset origin)
    {
        if (_partitions.TryGetValue(origin.TopicPartition, out var track))
        {
            track.Outstanding.Remove(origin.Offset.Value);
        }
    }

    public void Forget(TopicPartition partition) => _partitions.Remove(partition);

    /// <summary>
    /// Offsets to commit: for each partition whose settled prefix is past what was last committed. Nothing
    /// counts as committed until <see cref="MarkCommitted"/>, so offsets whose commit failed come again.
    /// </summary>
    public List<TopicPartitionOffset> Committable()
    {
        var offsets = new List<TopicPartitionOffset>();
        foreach (var (tp, track) in _partitions)
        {
            var committable = track.Outstanding.Count == 0 ? track.Next : track.Outstanding.Min;
            if (committable > track.Committed)
            {
                offsets.Add(new TopicPartitionOffset(tp, committable));
            }
        }

        return offsets;
    }

    /// <summary>The broker stored these offsets.</summary>
    public void MarkCommitted(IEnumerable<TopicPartitionOffset> offsets)
    {
        foreach (var tpo in offsets)
        {
            if (_partitions.TryGetValue(tpo.TopicPartition, out var track))
            {
                track.Committed = Math.Max(track.Committed, tpo.Offset.Value);
            }
        }
    }

    private sealed class Track
    {
        public readonly SortedSet<long> Outstanding = [];
        public long Next;
        public long Committed = -1;
    }
}
