using System.Diagnostics.Metrics;
using System.Net;
using System.Text;
using CioSegment.Processor;
using CioSegment.Mapping.Settings;
using CioSegment.Processor.Publish;
using Confluent.Kafka;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using NSubstitute;

namespace CioSegment.UnitTests.Publish;

/// <summary>
/// A lane that does not deliver shows in the publisher's health and metrics: Degraded while Segment refuses
/// (a restart would not help), Unhealthy when a request hangs with no attempt for longer than any retry waits
/// or the loop stops running (a restart sends the events again). On a simulated clock.
/// </summary>
public class PublisherHealthTests
{
    private static readonly TopicPartition P0 = new("sink", 0);

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly IConsumer<byte[]?, SegmentTrackRecordView> _consumer = Substitute.For<IConsumer<byte[]?, SegmentTrackRecordView>>();
    private readonly Queue<ConsumeResult<byte[]?, SegmentTrackRecordView>> _records = new();
    private readonly PublisherOptions _options = new()
    {
        InputTopic = "sink",
        Linger = TimeSpan.FromMilliseconds(10),
        RequestTimeout = TimeSpan.FromSeconds(15),
        RetryBaseDelay = TimeSpan.FromMilliseconds(500),
        RetryMaxDelay = TimeSpan.FromSeconds(60),
        StalledAfter = TimeSpan.FromMinutes(5),
    };

    private readonly PublisherHealth _health;

    public PublisherHealthTests()
    {
        _health = new PublisherHealth(_time);
        _consumer.Consume(Arg.Any<TimeSpan>()).Returns(_ => _records.Count > 0 ? _records.Dequeue() : null);
        _consumer.Assignment.Returns([P0]);
    }

    [Fact]
    public async Task A_publisher_that_delivers_is_healthy_and_shows_no_stall()
    {
        using var publisher = Publisher(_ => Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK)));
        _records.Enqueue(Record(0));

        Run(publisher, TimeSpan.FromSeconds(10));

        Assert.Equal(HealthStatus.Healthy, (await Check()).Status);
        Assert.Equal(TimeSpan.Zero, _health.Last!.Stalled);
        Assert.Equal(0, publisher.Buffered);
    }

    [Fact]
    public async Task A_source_that_Segment_keeps_refusing_is_degraded_not_unhealthy()
    {
        using var publisher = Publisher(_ => Task.FromResult(new HttpResponseMessage(HttpStatusCode.Unauthorized)));
        _records.Enqueue(Record(0));

        Run(publisher, TimeSpan.FromMinutes(4));
        Assert.Equal(HealthStatus.Healthy, (await Check()).Status);
        Assert.InRange(_health.Last!.Stalled, TimeSpan.FromMinutes(3.9), TimeSpan.FromMinutes(4));

        Run(publisher, TimeSpan.FromMinutes(2));
        var result = await Check();
        Assert.Equal(HealthStatus.Degraded, result.Status);
        Assert.Contains("source acme", result.Description, StringComparison.Ordinal);
        Assert.Equal(0, _health.Last!.Hung);   // it keeps trying: not hung
    }

    [Fact]
    public async Task A_request_that_never_completes_makes_the_publisher_unhealthy()
    {
        using var publisher = Publisher(_ => new TaskCompletionSource<HttpResponseMessage>().Task);   // ignores its timeout: a hung stack
        _records.Enqueue(Record(0));

        Run(publisher, TimeSpan.FromMinutes(2));
        Assert.Equal(0, _health.Last!.Hung);

        Run(publisher, TimeSpan.FromMinutes(2));
        var result = await Check();
        Assert.Equal(HealthStatus.Unhealthy, result.Status);
        Assert.Equal(1, _health.Last!.Hung);
        Assert.Contains("source acme", result.Description, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_loop_that_stopped_running_makes_the_publisher_unhealthy()
    {
        using var publisher = Publisher(_ => Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK)));
        Run(publisher, TimeSpan.FromSeconds(5));
        Assert.Equal(HealthStatus.Healthy, (await Check()).Status);

        _time.Advance(PublisherHealthCheck.LoopTimeout + TimeSpan.FromSeconds(1));

        Assert.Equal(HealthStatus.Unhealthy, (await Check()).Status);
    }

    private Task<HealthCheckResult> Check() =>
        new PublisherHealthCheck(_health, Options.Create(_options)).CheckHealthAsync(new HealthCheckContext());

    /// <summary>Runs the loop for <paramref name="duration"/> of simulated time, in 100 ms steps.</summary>
    private void Run(BatchPublisher publisher, TimeSpan duration)
    {
        for (var elapsed = TimeSpan.Zero; elapsed < duration; elapsed += TimeSpan.FromMilliseconds(100))
        {
            publisher.RunOnce(TimeSpan.Zero);
            _time.Advance(TimeSpan.FromMilliseconds(100));
        }

        publisher.RunOnce(TimeSpan.Zero);
    }

    private BatchPublisher Publisher(Func<HttpRequestMessage, Task<HttpResponseMessage>> answer)
    {
        var sources = new SourceCatalog([SourceSettings.Create("acme", new SourceOptions { WebhookSigningKey = "k", WriteKey = "w", SegmentEndpoint = "http://segment.invalid" })]);
        var client = new SegmentBatchClient(new HttpClient(new Answering(answer)), new ConfiguredSegmentEndpoints(), _time);
        return new BatchPublisher(_consumer, Substitute.For<IProducer<byte[]?, byte[]?>>(), client, sources, _options, new Meter("test-" + Guid.NewGuid()), NullLogger.Instance, _time, () => 0.5, send => send(), _health);
    }

    private static ConsumeResult<byte[]?, SegmentTrackRecordView> Record(long offset) => new()
    {
        Topic = P0.Topic,
        Partition = P0.Partition,
        Offset = new Offset(offset),
        Message = new Message<byte[]?, SegmentTrackRecordView>
        {
            Key = "cool-person"u8.ToArray(),
            Value = new SegmentTrackRecordView("acme", "cio-" + offset, "cool-person", "Email Opened", 0, Encoding.UTF8.GetBytes($"{{\"messageId\":\"cio-{offset}\"}}")),
            Headers = [],
        },
    };

    private sealed class Answering(Func<HttpRequestMessage, Task<HttpResponseMessage>> answer) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) => answer(request);
    }
}
