using Confluent.Kafka;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace CioSegment.Ingest;

/// <summary>Ready = the broker answers a metadata request for the raw topic (result cached briefly).</summary>
public sealed class KafkaReadinessCheck(RawWebhookProducer producer, TimeProvider time) : IHealthCheck, IDisposable
{
    private static readonly TimeSpan CacheFor = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(2);

    private readonly IAdminClient _admin = new DependentAdminClientBuilder(producer.Handle).Build();
    private readonly SemaphoreSlim _gate = new(1, 1);
    private (DateTimeOffset At, HealthCheckResult Result)? _last;

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (_last is { } last && time.GetUtcNow() - last.At < CacheFor)
            {
                return last.Result;
            }

            var result = await Task.Run(Probe, cancellationToken);
            _last = (time.GetUtcNow(), result);
            return result;
        }
        finally
        {
            _gate.Release();
        }
    }

    private HealthCheckResult Probe()
    {
        try
        {
            var metadata = _admin.GetMetadata(producer.Topic, Timeout);
            var topic = metadata.Topics.FirstOrDefault(t => t.Topic == producer.Topic);
            if (metadata.Brokers.Count == 0)
            {
                return HealthCheckResult.Unhealthy("No Kafka broker answered.");
            }

            return topic is null || topic.Error.IsError
                ? HealthCheckResult.Unhealthy($"Topic {producer.Topic} is not available: {topic?.Error.Reason ?? "missing"}.")
                : HealthCheckResult.Healthy($"{metadata.Brokers.Count} broker(s), {topic.Partitions.Count} partition(s).");
        }
        catch (KafkaException e)
        {
            return HealthCheckResult.Unhealthy($"Kafka metadata request failed: {e.Error.Reason}");
        }
    }

    public void Dispose()
    {
        _admin.Dispose();
        _gate.Dispose();
    }
}

/// <summary>Alive = the producer has not failed fatally (a fatal librdkafka error needs a new process).</summary>
public sealed class ProducerLivenessCheck(RawWebhookProducer producer) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(producer.FatalError is { } e
            ? HealthCheckResult.Unhealthy($"Kafka producer failed fatally: {e.Code}")
            : HealthCheckResult.Healthy());
}
