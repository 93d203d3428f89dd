using CioSegment.KafkaDouble;
using CioSegment.Processor.Transform;
using Confluent.Kafka;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using static CioSegment.KafkaDouble.TransformerProcess;

namespace CioSegment.UnitTests.Transform;

/// <summary>
/// The transformer's probes on the Kafka double: ready only once its partitions' dedup state is restored, and
/// not alive when its loop makes no progress.
/// </summary>
public class TransformerHealthTests
{
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UtcNow);

    [Fact]
    public async Task Ready_only_once_every_assigned_partition_is_restored()
    {
        var cluster = Cluster(partitions: 1);
        var first = new TransformerProcess(cluster, DefaultOptions(commitEvery: 1), "pod-0");
        Ingest(cluster, Webhook("a"));
        first.RunUntilIdle();

        // A crashed producer's open transaction holds the changelog: a new owner cannot restore past it.
        LeaveOpenChangelogTransaction(cluster, "pod-crashed");
        first.Consumer.Dispose();

        var health = new TransformerHealth(_time);
        var options = DefaultOptions(commitEvery: 1);
        using var second = new TransformerProcess(cluster, options, "pod-1", health: health);
        Assert.Equal(HealthStatus.Unhealthy, (await Check(health, options, readiness: true)).Status);   // not started

        for (var i = 0; i < 20; i++)
        {
            second.Loop.RunOnce(TimeSpan.Zero);
        }

        var restoring = await Check(health, options, readiness: true);
        Assert.Equal(HealthStatus.Unhealthy, restoring.Status);
        Assert.Contains("restored", restoring.Description, StringComparison.Ordinal);
        Assert.Equal(HealthStatus.Healthy, (await Check(health, options, readiness: false)).Status);   // alive meanwhile

        cluster.Fence("pod-crashed");   // the coordinator aborts that transaction
        second.RunUntilIdle();

        Assert.Equal(HealthStatus.Healthy, (await Check(health, options, readiness: true)).Status);
    }

    [Fact]
    public async Task A_member_given_no_partitions_becomes_ready_after_a_session()
    {
        var health = new TransformerHealth(_time);
        var options = DefaultOptions();
        health.Beat(restoring: 0);

        Assert.Equal(HealthStatus.Unhealthy, (await Check(health, options, readiness: true)).Status);
        _time.Advance(TransformerHealthCheck.UnassignedReadyAfter + TimeSpan.FromSeconds(1));
        health.Beat(restoring: 0);

        Assert.Equal(HealthStatus.Healthy, (await Check(health, options, readiness: true)).Status);
    }

    [Fact]
    public async Task A_loop_without_progress_for_the_liveness_timeout_is_not_alive()
    {
        var cluster = Cluster(partitions: 1);
        var health = new TransformerHealth(_time);
        var options = DefaultOptions();
        options.LivenessTimeout = TimeSpan.FromMinutes(5);
        using var process = new TransformerProcess(cluster, options, health: health);
        process.Loop.RunOnce(TimeSpan.Zero);

        _time.Advance(TimeSpan.FromMinutes(4));
        Assert.Equal(HealthStatus.Healthy, (await Check(health, options, readiness: false)).Status);

        _time.Advance(TimeSpan.FromMinutes(2));   // the loop is stuck: no iteration, no retry
        var stalled = await Check(health, options, readiness: false);
        Assert.Equal(HealthStatus.Unhealthy, stalled.Status);
        Assert.Contains("no progress", stalled.Description, StringComparison.Ordinal);

        process.Loop.RunOnce(TimeSpan.Zero);
        Assert.Equal(HealthStatus.Healthy, (await Check(health, options, readiness: false)).Status);
    }

    private static Task<HealthCheckResult> Check(TransformerHealth health, TransformerOptions options, bool readiness) =>
        new TransformerHealthCheck(health, Options.Create(options), readiness).CheckHealthAsync(new HealthCheckContext());
}
