using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace CioSegment.Processor.Transform;

/// <summary>
/// What the transformer's loop last reported about itself: when it last made progress (an iteration, or an
/// attempt of a call it retries), whether it has been given its partitions yet, and how many are still being
/// restored. Written by the loop's thread, read by the health checks.
/// </summary>
public sealed class TransformerHealth(TimeProvider time)
{
    private readonly long _created = time.GetTimestamp();
    private long _lastBeat;
    private int _restoring;
    private int _assigned;

    internal TimeProvider Time => time;

    /// <summary>Timestamp of the last beat, or 0 before the loop's first.</summary>
    public long LastBeat => Volatile.Read(ref _lastBeat);

    /// <summary>Partitions whose dedup state is still being restored (they are paused).</summary>
    public int Restoring => Volatile.Read(ref _restoring);

    /// <summary>Whether the group has assigned this member its partitions (possibly none) at least once.</summary>
    public bool Assigned => Volatile.Read(ref _assigned) == 1;

    /// <summary>How long since the service started.</summary>
    public TimeSpan Uptime => time.GetElapsedTime(_created);

    internal void Beat(int restoring)
    {
        Volatile.Write(ref _restoring, restoring);
        Volatile.Write(ref _lastBeat, time.GetTimestamp());
    }

    internal void OnAssigned() => Volatile.Write(ref _assigned, 1);
}

/// <summary>
/// The transformer's health, one check for each probe:
/// <list type="bullet">
/// <item><b>live</b>: Unhealthy when the loop has made no progress for <see cref="TransformerOptions.LivenessTimeout"/>
/// (hung: the restart restores state and offsets from the last commit).</item>
/// <item><b>ready</b>: Unhealthy until the loop runs, the group has assigned this member its partitions (or,
/// when it gets none, for as long as a session lasts) and every assigned partition's dedup state is restored:
/// a rollout waits for it before it stops the next old pod.</item>
/// </list>
/// </summary>
public sealed class TransformerHealthCheck(TransformerHealth health, Microsoft.Extensions.Options.IOptions<TransformerOptions> options, bool readiness) : IHealthCheck
{
    /// <summary>A member that is given no partitions is ready after this long (a group's session timeout is 45 s by default).</summary>
    public static readonly TimeSpan UnassignedReadyAfter = TimeSpan.FromSeconds(45);

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var lastBeat = health.LastBeat;
        HealthCheckResult result;
        if (readiness)
        {
            result =
                lastBeat == 0 ? HealthCheckResult.Unhealthy("the transformer's loop has not started")
                : !health.Assigned && health.Uptime < UnassignedReadyAfter ? HealthCheckResult.Unhealthy("the transformer has not been assigned its partitions yet")
                : health.Restoring > 0 ? HealthCheckResult.Unhealthy($"the dedup state of {health.Restoring} partition(s) is being restored")
                : HealthCheckResult.Healthy();
        }
        else
        {
            var since = lastBeat == 0 ? health.Uptime : health.Time.GetElapsedTime(lastBeat);
            result = since > options.Value.LivenessTimeout
                ? HealthCheckResult.Unhealthy($"the transformer's loop has made no progress for {since.TotalSeconds:F0} s")
                : HealthCheckResult.Healthy();
        }

        return Task.FromResult(result);
    }
}
