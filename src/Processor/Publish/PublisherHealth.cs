using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace CioSegment.Processor.Publish;

/// <summary>
/// What the publisher's loop last reported about itself, for <c>/health/live</c> and the metrics: when the loop
/// last ran, the lane that has held events longest without delivering (or dead-lettering) any, and lanes whose
/// request is hung (in flight, with no attempt for longer than any retry can wait). Written by the loop's thread,
/// read by health checks and metric collection.
/// </summary>
public sealed class PublisherHealth(TimeProvider time)
{
    private volatile Snapshot? _last;

    /// <summary>The last report, or null before the loop's first.</summary>
    public Snapshot? Last => _last;

    internal TimeProvider Time => time;

    internal void Report(TimeSpan stalled, string? stalledSource, int hung, string? hungSource) =>
        _last = new Snapshot(time.GetTimestamp(), stalled, stalledSource, hung, hungSource);

    /// <param name="At">Timestamp (<see cref="TimeProvider.GetTimestamp"/>) of the report: the loop ran then.</param>
    /// <param name="Stalled">Longest time a lane holding events went without delivering or dead-lettering any.</param>
    /// <param name="StalledSource">The source of that lane.</param>
    /// <param name="Hung">Lanes with a request in flight and no attempt for longer than a retry can wait.</param>
    /// <param name="HungSource">The source of one of them.</param>
    public sealed record Snapshot(long At, TimeSpan Stalled, string? StalledSource, int Hung, string? HungSource);
}

/// <summary>
/// Liveness (the default): Unhealthy (the pod is restarted) when the publisher's loop has not run for <see cref="LoopTimeout"/> or a
/// lane's request is hung: a restart sends their events again. Degraded when a source has held events for
/// <see cref="PublisherOptions.StalledAfter"/> without delivering any (Segment refuses or does not answer:
/// a restart would not help, so the pod stays; the alert on <c>cio.publisher.stalled</c> pages).
/// Readiness: Unhealthy until the loop has run once.
/// </summary>
public sealed class PublisherHealthCheck(PublisherHealth health, IOptions<PublisherOptions> options, bool readiness = false) : IHealthCheck
{
    /// <summary>A loop iteration takes milliseconds; a rebalance callback, seconds.</summary>
    public static readonly TimeSpan LoopTimeout = TimeSpan.FromMinutes(2);

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (health.Last is not { } last)
        {
            return Task.FromResult(readiness ? HealthCheckResult.Unhealthy("the publisher's loop has not started") : HealthCheckResult.Healthy("starting"));
        }

        if (readiness)
        {
            // Ready once the loop runs: a source Segment refuses is the alert's business, not a reason to hold a rollout.
            return Task.FromResult(HealthCheckResult.Healthy());
        }

        var since = health.Time.GetElapsedTime(last.At);
        var result =
            since > LoopTimeout ? HealthCheckResult.Unhealthy($"the publisher's loop has not run for {since.TotalSeconds:F0} s")
            : last.Hung > 0 ? HealthCheckResult.Unhealthy($"{last.Hung} lane(s) of source {last.HungSource} have a request in flight with no attempt for longer than a retry waits")
            : last.Stalled > options.Value.StalledAfter ? HealthCheckResult.Degraded($"source {last.StalledSource} has held events for {last.Stalled.TotalSeconds:F0} s without delivering any")
            : HealthCheckResult.Healthy();
        return Task.FromResult(result);
    }
}
