using Confluent.Kafka;

namespace CioSegment.KafkaDouble;

/// <summary>
/// A consumer group with the cooperative protocol: the topic's partitions are spread round-robin over the
/// members in join order; a partition moves only after its previous owner revoked it (or lost it), and each
/// membership change starts a new generation. A member expelled (session timeout) loses its partitions
/// without revoking them and is no longer current (its transactional offsets are refused).
/// </summary>
internal sealed class ConsumerGroup(KafkaCluster cluster, string groupId)
{
    private readonly object _gate = new();
    private readonly List<ConsumerDouble> _members = [];
    private readonly Dictionary<TopicPartition, ConsumerDouble> _owners = [];
    private readonly Dictionary<string, int> _memberGenerations = [];
    private string? _topic;

    public string GroupId { get; } = groupId;

    public int Generation { get; private set; }

    public void Join(ConsumerDouble member, string topic)
    {
        lock (_gate)
        {
            if (_topic is not null && _topic != topic)
            {
                throw new NotSupportedException("The double's groups consume one topic.");
            }

            _topic = topic;
            if (!_members.Contains(member))
            {
                _members.Add(member);
                Generation++;
                _memberGenerations[member.MemberId] = Generation;
            }
        }
    }

    /// <summary>Leaves the group: the member's partitions become free for the others.</summary>
    public void Leave(ConsumerDouble member)
    {
        lock (_gate)
        {
            if (_members.Remove(member))
            {
                Generation++;
            }

            _memberGenerations.Remove(member.MemberId);
            foreach (var tp in _owners.Where(o => o.Value == member).Select(o => o.Key).ToList())
            {
                _owners.Remove(tp);
            }
        }
    }

    /// <summary>The revocations and assignments due for <paramref name="member"/> now, given what it holds.</summary>
    public (List<TopicPartition> Revoke, List<TopicPartition> Assign) Sync(ConsumerDouble member, IReadOnlyCollection<TopicPartition> held)
    {
        lock (_gate)
        {
            var index = _members.IndexOf(member);
            if (index < 0 || _topic is null)
            {
                return ([], []);
            }

            _memberGenerations[member.MemberId] = Generation;
            var target = cluster.PartitionsOf(_topic).Where(tp => tp.Partition.Value % _members.Count == index).ToHashSet();
            var revoke = held.Where(tp => !target.Contains(tp)).ToList();
            var assign = target.Where(tp => !held.Contains(tp) && !_owners.ContainsKey(tp)).OrderBy(tp => tp.Partition.Value).ToList();
            return (revoke, assign);
        }
    }

    public void Acquired(ConsumerDouble member, IEnumerable<TopicPartition> partitions)
    {
        lock (_gate)
        {
            foreach (var tp in partitions)
            {
                _owners[tp] = member;
            }
        }
    }

    public void Released(ConsumerDouble member, IEnumerable<TopicPartition> partitions)
    {
        lock (_gate)
        {
            foreach (var tp in partitions)
            {
                if (_owners.TryGetValue(tp, out var owner) && owner == member)
                {
                    _owners.Remove(tp);
                }
            }
        }
    }

    public bool IsMember(ConsumerDouble member)
    {
        lock (_gate)
        {
            return _members.Contains(member);
        }
    }

    public bool Owns(ConsumerDouble member, TopicPartition tp)
    {
        lock (_gate)
        {
            return _owners.TryGetValue(tp, out var owner) && owner == member;
        }
    }

    /// <summary>KIP-447's check: the member is in the group and has seen the current generation.</summary>
    public bool IsCurrent(string memberId, int generation)
    {
        lock (_gate)
        {
            return _memberGenerations.TryGetValue(memberId, out var seen) && seen == generation;
        }
    }

    public int MemberGeneration(string memberId)
    {
        lock (_gate)
        {
            return _memberGenerations.GetValueOrDefault(memberId, -1);
        }
    }
}
