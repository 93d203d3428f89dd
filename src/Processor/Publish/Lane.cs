namespace CioSegment.Processor.Publish;

/// <summary>
/// A share of one source's persons (a hash of the person key) with at most one request in flight, sending
/// its batches in order: each person's events reach Segment in order while a source has several requests in
/// flight. Touched by the publisher's loop only, but <see cref="LastAttempt"/> also by the sending task.
/// </summary>
internal sealed class Lane(string source)
{
    public string Source { get; } = source;

    /// <summary>A lane of events read back from the held topic (they are never parked again).</summary>
    public bool HeldPath { get; init; }

    /// <summary>Its source's delivery state (null for the placeholder lane of dead letters without one).</summary>
    public SourceDelivery? Delivery { get; init; }

    /// <summary>Its source's request rate budget on this publisher.</summary>
    public RateBudget? Budget { get; init; }

    /// <summary>The source's request token when the batch in flight was dispatched: cancelled when the source starts holding.</summary>
    public CancellationToken Requests { get; set; }

    public List<PendingEvent> Open { get; } = [];

    public int OpenBytes { get; set; }

    /// <summary>Timestamp at which <see cref="Open"/> got its first event.</summary>
    public long OpenedAt { get; set; }

    public Queue<List<PendingEvent>> Ready { get; } = new();

    public bool InFlight { get; set; }

    /// <summary>The rest of a batch whose sending failed unexpectedly: sent again first, from <see cref="RetryAfter"/>.</summary>
    public List<PendingEvent>? Retry { get; set; }

    /// <summary>Stopwatch timestamp before which <see cref="Retry"/> waits.</summary>
    public long RetryAfter { get; set; }

    /// <summary>Timestamp since which the lane holds events without having settled any.</summary>
    public long HoldingSince { get; set; }

    /// <summary>Timestamp of the last attempt of the request in flight (a send, a retry, a dead-letter write); written by the sending task.</summary>
    public long LastAttempt;

    public bool Holding => InFlight || Open.Count > 0 || Ready.Count > 0 || Retry is { Count: > 0 };

    /// <summary>Unexpected failures in a row (the pause doubles with each).</summary>
    public int Failures { get; set; }

    public void Close()
    {
        Ready.Enqueue([.. Open]);
        Open.Clear();
        OpenBytes = 0;
    }
}
