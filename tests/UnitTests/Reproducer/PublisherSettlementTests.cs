using System.Diagnostics.Metrics;
using System.Net;
using System.Text;
using CioSegment.Processor;
using CioSegment.Mapping.Settings;
using CioSegment.Processor.Publish;
using Confluent.Kafka;
using Microsoft.Extensions.Logging.Abstractions;
using NSubstitute;

namespace CioSegment.UnitTests.Reproducer;

/// <summary>
/// The publisher's settlement and commits around failures that are not Segment's answers. Each test failed on
/// the publisher before the fix: a batch whose sending threw was neither settled nor sent again (its
/// partitions' commits froze and the buffer count leaked); lost partitions were committed as if revoked.
/// </summary>
public class PublisherSettlementTests
{
    private static readonly TopicPartition P0 = new("sink", 0);

    private readonly IConsumer<byte[]?, SegmentTrackRecordView> _consumer = Substitute.For<IConsumer<byte[]?, SegmentTrackRecordView>>();
    private readonly Queue<ConsumeResult<byte[]?, SegmentTrackRecordView>> _records = new();
    private readonly List<List<TopicPartitionOffset>> _commits = [];

    public PublisherSettlementTests()
    {
        _consumer.Consume(Arg.Any<TimeSpan>()).Returns(_ => _records.Count > 0 ? _records.Dequeue() : null);
        _consumer.Assignment.Returns([P0]);
        _consumer.When(c => c.Commit(Arg.Any<IEnumerable<TopicPartitionOffset>>())).Do(c => _commits.Add(c.Arg<IEnumerable<TopicPartitionOffset>>().ToList()));
    }

    [Fact]
    public void A_batch_whose_sending_throws_is_sent_again_and_its_offsets_are_committed_once_delivered()
    {
        var calls = 0;
        var delivered = new List<string>();
        using var publisher = Publisher(request =>
        {
            if (Interlocked.Increment(ref calls) == 1)
            {
                throw new InvalidOperationException("a bug in a handler");
            }

            var body = System.Text.Json.Nodes.JsonNode.Parse(request.Content!.ReadAsStringAsync().GetAwaiter().GetResult())!;
            lock (delivered)
            {
                delivered.AddRange(body["batch"]!.AsArray().Select(e => (string)e!["messageId"]!));
            }

            return new HttpResponseMessage(HttpStatusCode.OK);
        });
        Enqueue(0, "cool-person");
        Enqueue(1, "cool-person");

        RunUntil(publisher, () => _commits.Any(c => c.Any(o => o.Offset.Value == 2)));

        Assert.Equal(["cio-0", "cio-1"], delivered);   // the failed batch again, first: the person's order holds
        Assert.Equal(0, publisher.Buffered);
        Assert.Contains(_commits, c => c.Single() == new TopicPartitionOffset(P0, 2));
    }

    [Fact]
    public void Lost_partitions_are_not_committed_and_their_unsent_events_are_dropped()
    {
        using var publisher = Publisher(_ => new HttpResponseMessage(HttpStatusCode.OK), linger: TimeSpan.FromHours(1));
        Enqueue(0, "cool-person");
        publisher.RunOnce(TimeSpan.Zero);
        Assert.Equal(1, publisher.Buffered);

        publisher.OnLost([new TopicPartitionOffset(P0, 1)]);

        Assert.Empty(_commits);
        Assert.Equal(0, publisher.Buffered);
        publisher.Shutdown(TimeSpan.FromMilliseconds(10));
        Assert.Empty(_commits);
    }

    [Fact]
    public void A_schema_registry_outage_delays_sink_records_but_never_dead_letters_them()
    {
        // Bug: the deserializer's transport error came as a value-deserialization error, and good records
        // became invalid_sink_record dead letters while the registry was down.
        var failures = 3;
        var paused = false;
        var delivered = false;
        var sought = new List<long>();
        _consumer.When(c => c.Pause(Arg.Any<IEnumerable<TopicPartition>>())).Do(_ => paused = true);
        _consumer.When(c => c.Resume(Arg.Any<IEnumerable<TopicPartition>>())).Do(_ => paused = false);
        _consumer.When(c => c.Seek(Arg.Any<TopicPartitionOffset>())).Do(c => sought.Add(c.Arg<TopicPartitionOffset>().Offset.Value));
        _consumer.Consume(Arg.Any<TimeSpan>()).Returns(_ =>
        {
            if (delivered || paused)
            {
                return null;
            }

            if (failures-- > 0)
            {
                throw new ConsumeException(
                    new ConsumeResult<byte[], byte[]> { Topic = P0.Topic, Partition = P0.Partition, Offset = 0, Message = new Message<byte[], byte[]> { Value = [0, 0, 0, 0, 1] } },
                    new Error(ErrorCode.Local_ValueDeserialization),
                    new HttpRequestException("Connection refused (registry:8081)"));
            }

            delivered = true;
            return Record(0, "cool-person");
        });
        var deadLetters = Substitute.For<IProducer<byte[]?, byte[]?>>();
        using var publisher = Publisher(_ => new HttpResponseMessage(HttpStatusCode.OK), deadLetters: deadLetters);

        RunUntil(publisher, () => _commits.Any(c => c.Any(o => o.Offset.Value == 1)));

        Assert.Equal([0L, 0L, 0L], sought);
        Assert.Empty(deadLetters.ReceivedCalls());
        Assert.Contains(_commits, c => c.Single() == new TopicPartitionOffset(P0, 1));
    }

    [Theory]
    [InlineData("events")]
    [InlineData("bytes")]
    public void Over_the_bound_partitions_assigned_later_are_paused_too(string bound)
    {
        // Bug: only the assignment of the moment was paused; partitions assigned during an outage were
        // consumed without limit. And only events were bounded, not their bytes (up to 32 KB each).
        var p1 = new TopicPartition("sink", 1);
        var assignment = new List<TopicPartition> { P0 };
        _consumer.Assignment.Returns(_ => assignment.ToList());
        var paused = new List<TopicPartition>();
        _consumer.When(c => c.Pause(Arg.Any<IEnumerable<TopicPartition>>())).Do(c => paused.AddRange(c.Arg<IEnumerable<TopicPartition>>()));
        using var publisher = Publisher(_ => new HttpResponseMessage(HttpStatusCode.ServiceUnavailable), options: o =>
        {
            o.MaxBufferedEvents = bound == "events" ? 3 : 1000;
            o.MaxBufferedBytes = bound == "bytes" ? 40 : 1L << 30;
        });
        for (var i = 0; i < 3; i++)
        {
            Enqueue(i, "cool-person");
            publisher.RunOnce(TimeSpan.Zero);
        }

        Assert.Equal([P0], paused);

        assignment.Add(p1);   // a rebalance during the outage
        publisher.RunOnce(TimeSpan.Zero);

        Assert.Equal([P0, p1], paused);
        publisher.Shutdown(TimeSpan.FromMilliseconds(10));
    }

    /// <summary>Found by the pipeline simulation (a Segment fault of kind NotFound): every event was dead-lettered.</summary>
    [Theory]
    [InlineData(HttpStatusCode.NotFound)]
    [InlineData(HttpStatusCode.MethodNotAllowed)]
    [InlineData(HttpStatusCode.Gone)]
    public void An_endpoint_that_is_not_segments_holds_the_events_and_never_dead_letters_them(HttpStatusCode status)
    {
        var answers = 0;
        var deadLetters = Substitute.For<IProducer<byte[]?, byte[]?>>();
        using var publisher = Publisher(_ => Interlocked.Increment(ref answers) <= 3 ? new HttpResponseMessage(status) : new HttpResponseMessage(HttpStatusCode.OK), deadLetters: deadLetters);
        Enqueue(0, "cool-person");
        Enqueue(1, "other-person");

        RunUntil(publisher, () => _commits.Any(c => c.Any(o => o.Offset.Value == 2)));

        Assert.True(answers >= 4, $"{answers} requests");
        Assert.Empty(deadLetters.ReceivedCalls());
        Assert.Contains(_commits, c => c.Single() == new TopicPartitionOffset(P0, 2));
    }

    [Fact]
    public void A_dead_letter_producer_in_a_fatal_state_stops_the_loop_instead_of_holding_the_lane_forever()
    {
        var deadLetters = Substitute.For<IProducer<byte[]?, byte[]?>>();
        deadLetters.ProduceAsync(Arg.Any<string>(), Arg.Any<Message<byte[]?, byte[]?>>(), Arg.Any<CancellationToken>())
            .Returns<Task<DeliveryResult<byte[]?, byte[]?>>>(_ => throw new ProduceException<byte[]?, byte[]?>(new Error(ErrorCode.Local_Fatal, "Fatal idempotent producer error", true), new DeliveryResult<byte[]?, byte[]?>()));
        using var publisher = Publisher(_ => new HttpResponseMessage(HttpStatusCode.BadRequest), deadLetters: deadLetters);
        Enqueue(0, "cool-person");

        // Every RunOnce inside the try: the fatal error surfaces from whichever call comes after the dead-letter write.
        KafkaException? stopped = null;
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (stopped is null && DateTime.UtcNow < deadline)
        {
            try
            {
                publisher.RunOnce(TimeSpan.Zero);
                Thread.Sleep(2);
            }
            catch (KafkaException e)
            {
                stopped = e;
            }
        }

        Assert.NotNull(stopped);
        Assert.True(stopped.Error.IsFatal);
        // Nothing settled: no commit passes the event (a commit at its own offset, 0, may happen), the restart sends it again.
        Assert.DoesNotContain(_commits.SelectMany(c => c), o => o.Offset.Value > 0);
    }

    [Theory]
    [InlineData(413)]   // a proxy's body limit: our batches are always within Segment's 500 KB
    [InlineData(418)]
    [InlineData(422)]
    [InlineData(501)]
    [InlineData(505)]
    [InlineData(511)]   // a captive portal or proxy asking for authentication
    public void A_whole_request_answer_is_retried_never_split_and_never_dead_lettered(int status)
    {
        // Segment refuses individual events with 400 only; any other answer is about the request as a whole
        // (endpoint, proxy, auth, limits), so splitting would only multiply requests and dead-letter every event.
        var answers = 0;
        var sizes = new List<int>();
        var deadLetters = Substitute.For<IProducer<byte[]?, byte[]?>>();
        using var publisher = Publisher(
            request =>
            {
                var body = System.Text.Json.Nodes.JsonNode.Parse(request.Content!.ReadAsStringAsync().GetAwaiter().GetResult())!;
                lock (sizes)
                {
                    sizes.Add(body["batch"]!.AsArray().Count);
                }

                return new HttpResponseMessage(Interlocked.Increment(ref answers) <= 3 ? (HttpStatusCode)status : HttpStatusCode.OK);
            },
            linger: TimeSpan.FromMilliseconds(500),   // the three events are one batch, even on a busy machine
            deadLetters: deadLetters);
        Enqueue(0, "cool-person");
        Enqueue(1, "cool-person");
        Enqueue(2, "cool-person");

        RunUntil(publisher, () => _commits.Any(c => c.Any(o => o.Offset.Value == 3)));

        Assert.Equal([3, 3, 3, 3], sizes);
        Assert.Empty(deadLetters.ReceivedCalls());
        Assert.Equal(0, publisher.Buffered);
    }

    [Fact]
    public void Events_of_a_source_removed_while_they_waited_are_dead_lettered_not_stuck()
    {
        // Sources change while the publisher runs: once a removed source's grace is over, the batch that
        // waited for it must settle as unknown_source, or its partition's commits stop for good.
        var sources = Acme();
        var deadLetters = Substitute.For<IProducer<byte[]?, byte[]?>>();
        var reasons = new List<string>();
        deadLetters.ProduceAsync(Arg.Any<string>(), Arg.Any<Message<byte[]?, byte[]?>>(), Arg.Any<CancellationToken>())
            .Returns(c =>
            {
                var message = c.Arg<Message<byte[]?, byte[]?>>();
                lock (reasons)
                {
                    reasons.Add(Encoding.UTF8.GetString(message.Headers.GetLastBytes(CioSegment.Contracts.HeaderNames.DeadLetterReason)));
                }

                return Task.FromResult(new DeliveryResult<byte[]?, byte[]?>());
            });
        var requests = 0;
        using var publisher = Publisher(_ => { Interlocked.Increment(ref requests); return new HttpResponseMessage(HttpStatusCode.OK); }, linger: TimeSpan.FromMilliseconds(300), deadLetters: deadLetters, sources: sources);
        Enqueue(0, "cool-person");
        Enqueue(1, "cool-person");
        publisher.RunOnce(TimeSpan.Zero);
        publisher.RunOnce(TimeSpan.Zero);
        Assert.Equal(2, publisher.Buffered);

        sources.Apply([]);   // removed, no grace
        RunUntil(publisher, () => _commits.Any(c => c.Any(o => o.Offset.Value == 2)));

        Assert.Contains(_commits, c => c.Single() == new TopicPartitionOffset(P0, 2));
        Assert.Equal(0, publisher.Buffered);
        Assert.Equal(0, requests);
        Assert.Equal(["unknown_source", "unknown_source"], reasons);
    }

    private static SourceCatalog Acme() => new([SourceSettings.Create("acme", new SourceOptions { WebhookSigningKey = "k", WriteKey = "w", SegmentEndpoint = "http://segment.invalid" })]);

    private BatchPublisher Publisher(Func<HttpRequestMessage, HttpResponseMessage> answer, TimeSpan? linger = null, IProducer<byte[]?, byte[]?>? deadLetters = null, Action<PublisherOptions>? options = null, SourceCatalog? sources = null)
    {
        var http = new HttpClient(new Answering(answer));
        sources ??= Acme();
        var settings = new PublisherOptions
        {
            InputTopic = "sink",
            Linger = linger ?? TimeSpan.FromMilliseconds(1),
            RetryBaseDelay = TimeSpan.FromMilliseconds(1),
            RetryMaxDelay = TimeSpan.FromMilliseconds(10),
            CommitInterval = TimeSpan.FromMilliseconds(10),
        };
        options?.Invoke(settings);
        return new BatchPublisher(_consumer, deadLetters ?? Substitute.For<IProducer<byte[]?, byte[]?>>(), new SegmentBatchClient(http, new ConfiguredSegmentEndpoints(), TimeProvider.System), sources, settings, new Meter("test-" + Guid.NewGuid()), NullLogger.Instance);
    }

    private void Enqueue(long offset, string person) => _records.Enqueue(Record(offset, person));

    private static ConsumeResult<byte[]?, SegmentTrackRecordView> Record(long offset, string person) => new()
    {
        Topic = P0.Topic,
        Partition = P0.Partition,
        Offset = new Offset(offset),
        Message = new Message<byte[]?, SegmentTrackRecordView>
        {
            Key = Encoding.UTF8.GetBytes(person),
            Value = new SegmentTrackRecordView("acme", "cio-" + offset, person, "Email Opened", 0, Encoding.UTF8.GetBytes($"{{\"messageId\":\"cio-{offset}\"}}")),
            Headers = [],
        },
    };

    private static void RunUntil(BatchPublisher publisher, Func<bool> done)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!done() && DateTime.UtcNow < deadline)
        {
            publisher.RunOnce(TimeSpan.Zero);
            Thread.Sleep(2);
        }
    }

    private sealed class Answering(Func<HttpRequestMessage, HttpResponseMessage> answer) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) => Task.FromResult(answer(request));
    }
}
