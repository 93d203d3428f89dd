namespace CioSegment.Processor.Publish;

/// <summary>How a source's events are delivered now.</summary>
public enum SourceMode
{
    /// <summary>Sent to Segment from the sink topic.</summary>
    Delivering,

    /// <summary>
    /// Segment has refused or ignored the source's requests for <see cref="PublisherOptions.HoldAfter"/>, or
    /// the source holds more than <see cref="PublisherOptions.MaxBufferedBytesPerSource"/> in memory: its
    /// events are parked in the held topic, and delivered from there once Segment takes them again.
    /// </summary>
    Holding,
}

/// <summary>
/// One source's delivery state, a circuit breaker driven by Segment's answers: Delivering while requests
/// succeed; failing from the first whole-request failure (any answer but 2xx and 400, a timeout, no
/// connection); Holding once it has failed for <see cref="PublisherOptions.HoldAfter"/> without a success
/// in between (or is over its memory budget). Requests keep probing from the held topic, with backoff; the
/// first success closes the breaker. <see cref="Answered"/> is called from sending tasks, the rest from the
/// publisher's loop.
/// </summary>
public sealed class SourceDelivery(string source, TimeProvider time)
{
    private long _failingSince;
    private CancellationTokenSource _requests = new();

    public string Source { get; } = source;

    public SourceMode Mode { get; private set; } = SourceMode.Delivering;

    /// <summary>Events of the source held in memory by the sink path (batching, waiting or in flight).</summary>
    public int Buffered { get; set; }

    /// <summary>Their bytes of track JSON.</summary>
    public long BufferedBytes { get; set; }

    /// <summary>Events parked in the held topic so far.</summary>
    public long Parked { get; set; }

    /// <summary>Timestamp since when Segment has refused the source's requests as a whole; 0 while it takes them.</summary>
    public long FailingSince => Interlocked.Read(ref _failingSince);

    /// <summary>Cancelled when the source starts holding: its requests in flight stop retrying and their events are parked.</summary>
    public CancellationToken Requests => _requests.Token;

    /// <summary>Segment answered one of the source's requests: a success (2xx, or 400 about an event) or a whole-request failure.</summary>
    public void Answered(bool wholeRequestFailure)
    {
        if (!wholeRequestFailure)
        {
            Interlocked.Exchange(ref _failingSince, 0);
        }
        else
        {
            Interlocked.CompareExchange(ref _failingSince, Math.Max(1, time.GetTimestamp()), 0);   // 0 means "not failing"
        }
    }

    /// <summary>Moves between the modes; returns the new mode when it changed.</summary>
    public SourceMode? Update(TimeSpan holdAfter, long maxBufferedBytes)
    {
        var since = FailingSince;
        var failing = since != 0 && time.GetElapsedTime(since) >= holdAfter;
        if (Mode == SourceMode.Delivering && (failing || BufferedBytes >= maxBufferedBytes))
        {
            Mode = SourceMode.Holding;
            var cancelled = _requests;
            _requests = new CancellationTokenSource();
            cancelled.Cancel();   // not disposed: sending tasks may still link to its token
            return Mode;
        }

        if (Mode == SourceMode.Holding && since == 0 && BufferedBytes < maxBufferedBytes / 2)
        {
            Mode = SourceMode.Delivering;
            return Mode;
        }

        return null;
    }
}
