namespace CioSegment.Processor.Publish;

/// <summary>
/// One source's request rate on this publisher: its share of the cluster-wide budget
/// (<see cref="PublisherOptions.MaxRequestsPerSecondPerSource"/> times the share of the sink topic's
/// partitions this publisher owns, updated after every rebalance), lowered further when Segment answers 429
/// (halved at once, then raised back by a twentieth of the ceiling per second: additive increase,
/// multiplicative decrease). Every request takes a slot, the first attempt, each retry and each half of a
/// split batch alike; slots are evenly spaced, with no burst beyond one. Thread-safe.
/// </summary>
public sealed class RateBudget(double maxPerSecond, TimeProvider time)
{
    private readonly Lock _lock = new();
    private readonly double _max = maxPerSecond;
    private double _ceiling = maxPerSecond;
    private double _rate = maxPerSecond;
    private long _next = time.GetTimestamp();
    private long _lastIncrease = time.GetTimestamp();

    /// <summary>Requests per second allowed now.</summary>
    public double Rate
    {
        get
        {
            lock (_lock)
            {
                return _rate;
            }
        }
    }

    /// <summary>This publisher's share of the cluster-wide budget, in requests per second.</summary>
    public double Ceiling
    {
        get
        {
            lock (_lock)
            {
                return _ceiling;
            }
        }
    }

    /// <summary>The publisher owns <paramref name="share"/> (0..1] of the sink partitions now.</summary>
    public void SetShare(double share)
    {
        lock (_lock)
        {
            var ceiling = Math.Max(_max * Math.Clamp(share, 0, 1), Floor(_max));
            _rate = _rate >= _ceiling ? ceiling : Math.Min(_rate, ceiling);
            _ceiling = ceiling;
        }
    }

    /// <summary>Segment answered 429: halve the rate (not below a floor of one request every two seconds, or the ceiling if lower).</summary>
    public void Throttled()
    {
        lock (_lock)
        {
            _rate = Math.Max(_rate / 2, Floor(_ceiling));
            _lastIncrease = time.GetTimestamp();
        }
    }

    /// <summary>Waits for the next slot and takes it.</summary>
    public Task WaitAsync(CancellationToken cancel)
    {
        TimeSpan wait;
        lock (_lock)
        {
            var now = time.GetTimestamp();
            var seconds = (now - _lastIncrease) / (double)time.TimestampFrequency;
            if (seconds > 0 && _rate < _ceiling)
            {
                _rate = Math.Min(_ceiling, _rate + (_ceiling / 20 * seconds));
            }

            _lastIncrease = now;
            var spacing = (long)(time.TimestampFrequency / _rate);
            var slot = Math.Max(_next, now - spacing);
            _next = slot + spacing;
            wait = slot > now ? TimeSpan.FromSeconds((slot - now) / (double)time.TimestampFrequency) : TimeSpan.Zero;
        }

        return wait > TimeSpan.Zero ? DelayAsync(wait, cancel) : Task.CompletedTask;
    }

    /// <summary>
    /// A delay on <see cref="TimeProvider"/> that completes on the thread that fires its timer or cancels it
    /// (a cancelled <c>Task.Delay</c> resumes its awaiter on the thread pool): the publisher's loop cancels a
    /// holding source's waits, and under a simulated clock everything then stays on one thread.
    /// </summary>
    private Task DelayAsync(TimeSpan wait, CancellationToken cancel)
    {
        var done = new TaskCompletionSource();
        var registration = cancel.Register(() => done.TrySetCanceled(cancel));
        ITimer? timer = null;
        timer = time.CreateTimer(
            _ =>
            {
                registration.Dispose();
                timer?.Dispose();
                done.TrySetResult();
            },
            null,
            wait,
            Timeout.InfiniteTimeSpan);
        if (done.Task.IsCompleted)
        {
            timer.Dispose();
        }
        else
        {
            _ = done.Task.ContinueWith(static (_, t) => ((ITimer)t!).Dispose(), timer, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously | TaskContinuationOptions.OnlyOnCanceled, TaskScheduler.Default);
        }

        return done.Task;
    }

    private static double Floor(double ceiling) => Math.Min(0.5, ceiling);
}
