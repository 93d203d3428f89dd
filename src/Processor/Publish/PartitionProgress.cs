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
        if (_partitions.TryGetValue(origin.TopicPartition, out var track) && track.Outstanding.Remove(origin.Offset.Value))
        {
            track.Dirty = true;
        }
    }

    public void Forget(TopicPartition partition) => _partitions.Remove(partition);

    /// <summary>Offsets to commit for partitions whose settled prefix moved since the last call.</summary>
    public List<TopicPartitionOffset> TakeCommittable()
    {
        var offsets = new List<TopicPartitionOffset>();
        foreach (var (tp, track) in _partitions)
        {
            if (!track.Dirty)
            {
                continue;
            }

            track.Dirty = false;
            var committable = track.Outstanding.Count == 0 ? track.Next : track.Outstanding.Min;
            if (committable > track.Committed)
            {
                track.Committed = committable;
                offsets.Add(new TopicPartitionOffset(tp, committable));
            }
        }

        return offsets;
    }

    private sealed class Track
    {
        public readonly SortedSet<long> Outstanding = [];
        public long Next;
        public long Committed = -1;
        public bool Dirty;
    }
}
