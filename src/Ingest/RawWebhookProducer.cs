using CioSegment.ServiceDefaults;
using Confluent.Kafka;
using Microsoft.Extensions.Options;

namespace CioSegment.Ingest;

/// <summary>
/// The one Kafka producer of the ingest process (acks=all, idempotent). Each webhook's record is
/// acknowledged by the broker, or fails, within <see cref="IngestOptions.BrokerTimeout"/>: librdkafka's
/// <c>message.timeout.ms</c> is set to it, so a request never waits past its budget and a 503 is never
/// given for a record the broker will later take silently (a late success only means a retry duplicate,
/// which the processor drops by event_id).
/// </summary>
public sealed class RawWebhookProducer : IDisposable
{
    private readonly IProducer<byte[]?, byte[]> _producer;
    private readonly ILogger<RawWebhookProducer> _logger;
    private readonly TimeSpan _budget;
    private volatile Error? _fatal;

    public RawWebhookProducer(KafkaClientFactory kafka, IOptions<IngestOptions> ingest, ILogger<RawWebhookProducer> logger)
    {
        _logger = logger;
        _budget = ingest.Value.BrokerTimeout;
        Topic = ingest.Value.Topic;

        var config = new ProducerConfig
        {
            Acks = Acks.All,
            EnableIdempotence = true,
            LingerMs = 2,
            CompressionType = CompressionType.Lz4,
            MessageTimeoutMs = (int)_budget.TotalMilliseconds,
            SocketTimeoutMs = Math.Max(1000, (int)_budget.TotalMilliseconds),
            QueueBufferingMaxKbytes = 256 * 1024,

            // A request needs only its record's status: the body, key and headers are not marshalled back.
            DeliveryReportFields = "status",

            // Room for the largest accepted body plus its key and headers (librdkafka's default is 1 000 000).
            // The brokers' message.max.bytes must allow as much (docker-compose and the chart set it).
            MessageMaxBytes = Math.Max(KafkaLimits.MaxRecordBytes, ingest.Value.MaxBodyBytes + 64 * 1024),
        };
        _producer = kafka.Producer<byte[]?, byte[]>("cio-ingest", config, e =>
        {
            if (e.IsFatal)
            {
                _fatal = e;
                _logger.LogCritical("The Kafka producer cannot be used again; the process reports itself not alive so that it is restarted.");
            }
        }).Build();
    }

    public string Topic { get; }

    /// <summary>The client handle, for admin requests (readiness) that share its connections.</summary>
    public Handle Handle => _producer.Handle;

    /// <summary>Set once librdkafka reported a fatal error: the producer cannot be used again.</summary>
    public Error? FatalError => _fatal;

    /// <summary>
    /// Writes one record and waits for the broker's acknowledgement. Returns false when the broker did
    /// not take it within the budget (the caller answers 503).
    /// </summary>
    public async Task<ProduceOutcome> ProduceAsync(Message<byte[]?, byte[]> message)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var outcome = await SendAsync(message).ConfigureAwait(false);
        MessagingTelemetry.Operation("send", Topic, System.Diagnostics.Stopwatch.GetElapsedTime(started), outcome.Stored ? null : outcome.Failure ?? "failed");
        return outcome;
    }

    private async Task<ProduceOutcome> SendAsync(Message<byte[]?, byte[]> message)
    {
        Task<DeliveryResult<byte[]?, byte[]>> delivery;
        try
        {
            delivery = _producer.ProduceAsync(Topic, message);
        }
        catch (ProduceException<byte[]?, byte[]> e)
        {
            // Raised synchronously, for example when the local queue is full because the broker is away.
            return ProduceOutcome.Failed(e.Error.Code);
        }
        catch (KafkaException e)
        {
            return ProduceOutcome.Failed(e.Error.Code);
        }

        try
        {
            // librdkafka fails the delivery at the budget; the margin only covers its timer granularity.
            var result = await delivery.WaitAsync(_budget + TimeSpan.FromMilliseconds(250)).ConfigureAwait(false);
            return result.Status == PersistenceStatus.Persisted
                ? new ProduceOutcome(true, null, null)
                : new ProduceOutcome(false, null, result.Status.ToString());
        }
        catch (ProduceException<byte[]?, byte[]> e)
        {
            return ProduceOutcome.Failed(e.Error.Code);
        }
        catch (TimeoutException)
        {
            return new ProduceOutcome(false, null, "timeout");
        }
    }

    /// <summary>
    /// Delivers what is still queued, then closes. The container disposes the producer after the web
    /// server has drained its requests, so every request that is still waiting gets its answer first.
    /// </summary>
    public void Dispose()
    {
        var remaining = _producer.Flush(TimeSpan.FromSeconds(10));
        if (remaining > 0)
        {
            _logger.LogWarning("{Count} webhook records were still undelivered at shutdown; their senders were not answered 200 and will retry.", remaining);
        }

        KafkaStatistics.Forget(_producer.Name);
        _producer.Dispose();
    }
}

public readonly record struct ProduceOutcome(bool Stored, ErrorCode? Code, string? Failure)
{
    /// <summary>The broker (or the client) refuses the record for its size: retrying cannot help.</summary>
    public bool TooLarge => Code == ErrorCode.MsgSizeTooLarge;

    internal static ProduceOutcome Failed(ErrorCode code) => new(false, code, code.ToString());
}
