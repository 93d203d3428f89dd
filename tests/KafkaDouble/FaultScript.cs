namespace CioSegment.KafkaDouble;

/// <summary>Where a client call can run into a fault.</summary>
internal enum FaultPoint
{
    Produce,
    SendOffsetsToTransaction,
    CommitTransaction,
    AbortTransaction,
    InitTransactions,
    ConsumerCommit,
    Committed,
}

/// <summary>The faults, each with the shape librdkafka gives it (see <see cref="ProducerDouble"/>).</summary>
internal enum FaultKind
{
    None,

    /// <summary>Produce: the local queue is full (<c>Local_QueueFull</c>) until the producer is polled.</summary>
    QueueFull,

    /// <summary>The transaction enters the abortable state: this and later calls fail until it is aborted.</summary>
    Abortable,

    /// <summary>A retriable timeout; for commit and abort the call is resumable (call it again to finish).</summary>
    Retriable,

    /// <summary>Commit: times out for the client, but the coordinator completes it in the background.</summary>
    RetriableCompleted,

    /// <summary>A fatal error: the producer is unusable (<c>Error.IsFatal</c>).</summary>
    Fatal,

    /// <summary>A twin with the same transactional.id fenced this producer (fatal <c>Local_Fenced</c>).</summary>
    Fenced,

    /// <summary>Commit: the coordinator completed it, but the client saw a fatal error.</summary>
    UnknownOutcome,
}

/// <summary>
/// The faults a cluster's clients will meet: scripted ones, in order per point, then whatever
/// <see cref="Random"/> decides. Counts what was injected.
/// </summary>
internal sealed class FaultScript
{
    private readonly object _gate = new();
    private readonly Dictionary<FaultPoint, Queue<FaultKind>> _script = [];
    private readonly Dictionary<(FaultPoint, FaultKind), int> _injected = [];

    /// <summary>Decides a fault for a call when nothing is scripted (for seeded simulations).</summary>
    public Func<FaultPoint, FaultKind>? Random { get; set; }

    /// <summary>The next call at <paramref name="point"/> meets <paramref name="kind"/>.</summary>
    public FaultScript Add(FaultPoint point, FaultKind kind)
    {
        lock (_gate)
        {
            if (!_script.TryGetValue(point, out var queue))
            {
                _script[point] = queue = new Queue<FaultKind>();
            }

            queue.Enqueue(kind);
            return this;
        }
    }

    public int Injected(FaultPoint point, FaultKind kind)
    {
        lock (_gate)
        {
            return _injected.GetValueOrDefault((point, kind));
        }
    }

    public IReadOnlyDictionary<(FaultPoint Point, FaultKind Kind), int> InjectedAll()
    {
        lock (_gate)
        {
            return new Dictionary<(FaultPoint, FaultKind), int>(_injected);
        }
    }

    internal FaultKind Next(FaultPoint point)
    {
        lock (_gate)
        {
            var kind = _script.TryGetValue(point, out var queue) && queue.Count > 0 ? queue.Dequeue() : Random?.Invoke(point) ?? FaultKind.None;
            if (kind != FaultKind.None)
            {
                _injected[(point, kind)] = _injected.GetValueOrDefault((point, kind)) + 1;
            }

            return kind;
        }
    }
}
