using System.Diagnostics;
using System.Text;
using CioSegment.DevDoubles.Kafka;
using Confluent.Kafka;

namespace CioSegment.IntegrationTests.Kafka;

/// <summary>
/// Kafka behaviour the pipeline relies on, exercised with real Confluent.Kafka clients against the broker
/// <see cref="KafkaFixture"/> chose (on this machine: the embedded development broker).
/// </summary>
/// <remarks>
/// The class shares one broker with the rest of the assembly and injects faults into it (broker down,
/// request errors, latency) that would break other tests running at the same time, so it is its own
/// non-parallel collection: xunit runs it alone, after the parallel collections.
/// </remarks>
[Collection(SharedBrokerFaultsCollection.Name)]
public sealed class EmbeddedBrokerTests(KafkaFixture kafka)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static void Log(string message) => TestContext.Current.TestOutputHelper?.WriteLine(message);

    [Fact]
    public void Fixture_reports_which_broker_it_chose()
    {
        Log(kafka.SelectionReport);

        Assert.Contains(kafka.Kind, new[] { KafkaFixture.KindExternal, KafkaFixture.KindTestcontainers, KafkaFixture.KindEmbedded });
        Assert.False(string.IsNullOrWhiteSpace(kafka.BootstrapServers));
        Assert.Equal(kafka.Kind == KafkaFixture.KindEmbedded, kafka.EmbeddedBroker is not null);
        Assert.Equal(kafka.Kind != KafkaFixture.KindEmbedded, kafka.SupportsTransactions);
        Assert.StartsWith($"Kafka for integration tests: {kafka.Kind}", kafka.SelectionReport);
    }

    [Fact]
    public void Unique_names_differ_and_are_valid_topic_names()
    {
        var names = Enumerable.Range(0, 100).Select(_ => kafka.UniqueName("it-topic")).ToList();

        Assert.Equal(names.Count, names.Distinct().Count());
        Assert.All(names, n =>
        {
            Assert.StartsWith("it-topic-", n);
            Assert.True(n.Length <= 249, n);
            Assert.Matches("^[a-zA-Z0-9._-]+$", n);
        });
    }

    [Fact]
    public async Task Idempotent_acks_all_producer_records_come_back_with_keys_values_headers_and_partitions()
    {
        const int partitions = 3;
        const int count = 30;
        var topic = kafka.UniqueName("it-roundtrip");
        await kafka.CreateTopicAsync(topic, partitions);

        var sent = new Dictionary<string, DeliveryResult<string, string>>();
        using (var producer = new ProducerBuilder<string, string>(new ProducerConfig
               {
                   BootstrapServers = kafka.BootstrapServers,
                   Acks = Acks.All,
                   EnableIdempotence = true,
                   LingerMs = 5,
               }).Build())
        {
            for (var i = 0; i < count; i++)
            {
                var message = new Message<string, string>
                {
                    Key = $"person-{i % 7}",
                    Value = $"{{\"seq\":{i}}}",
                    Headers = new Headers
                    {
                        { "source", Encoding.UTF8.GetBytes("src-42") },
                        { "seq", BitConverter.GetBytes(i) },
                    },
                };

                // Every third record goes to an explicit partition, the rest by key (murmur2 partitioner).
                var result = i % 3 == 0
                    ? await producer.ProduceAsync(new TopicPartition(topic, new Partition(i % partitions)), message, Ct)
                    : await producer.ProduceAsync(topic, message, Ct);

                Assert.Equal(PersistenceStatus.Persisted, result.Status);
                if (i % 3 == 0)
                {
                    Assert.Equal(i % partitions, result.Partition.Value);
                }

                sent.Add(message.Value, result);
            }
        }

        // Same key => same partition (for the key-partitioned records).
        var byKey = sent.Where(kv => ReadSeq(kv.Value.Message.Headers) % 3 != 0)
            .GroupBy(kv => kv.Value.Message.Key)
            .ToList();
        Assert.All(byKey, g => Assert.Single(g.Select(kv => kv.Value.Partition.Value).Distinct()));
        Assert.True(sent.Values.Select(r => r.Partition.Value).Distinct().Count() > 1, "records should spread over partitions");

        using var consumer = new ConsumerBuilder<string, string>(kafka.ConsumerConfig(kafka.UniqueName("it-roundtrip-reader"))).Build();
        consumer.Assign(Enumerable.Range(0, partitions).Select(p => new TopicPartitionOffset(topic, p, Offset.Beginning)));

        var received = new Dictionary<string, ConsumeResult<string, string>>();
        var deadline = Stopwatch.StartNew();
        while (received.Count < count && deadline.Elapsed < TimeSpan.FromSeconds(20))
        {
            var record = consumer.Consume(TimeSpan.FromMilliseconds(200));
            if (record is { IsPartitionEOF: false, Message: not null })
            {
                received.Add(record.Message.Value, record);
            }
        }

        Assert.Equal(count, received.Count);
        foreach (var (value, delivery) in sent)
        {
            var record = received[value];
            Assert.Equal(delivery.Message.Key, record.Message.Key);
            Assert.Equal(delivery.TopicPartitionOffset, record.TopicPartitionOffset);
            Assert.Equal("src-42", Encoding.UTF8.GetString(record.Message.Headers.GetLastBytes("source")));
            Assert.Equal(ReadSeq(delivery.Message.Headers), ReadSeq(record.Message.Headers));
        }

        consumer.Close();
    }

    [Fact]
    public async Task Consumer_group_with_two_members_gives_each_member_partitions()
    {
        const int partitions = 4;
        var topic = kafka.UniqueName("it-group");
        var group = kafka.UniqueName("it-group");
        await kafka.CreateTopicAsync(topic, partitions);

        using var first = new ConsumerBuilder<string, string>(kafka.ConsumerConfig(group)).Build();
        using var second = new ConsumerBuilder<string, string>(kafka.ConsumerConfig(group)).Build();
        var members = new[] { first, second };
        var received = new[] { new List<ConsumeResult<string, string>>(), new List<ConsumeResult<string, string>>() };

        void PollAll()
        {
            for (var m = 0; m < members.Length; m++)
            {
                var record = members[m].Consume(TimeSpan.FromMilliseconds(50));
                if (record is { IsPartitionEOF: false, Message: not null })
                {
                    received[m].Add(record);
                }
            }
        }

        first.Subscribe(topic);
        second.Subscribe(topic);

        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < TimeSpan.FromSeconds(30) && !SplitBetweenBoth(first.Assignment, second.Assignment, partitions))
        {
            PollAll();
        }

        Log($"group {group}: both members assigned after {sw.ElapsedMilliseconds} ms: "
            + $"[{string.Join(",", first.Assignment.Select(p => p.Partition.Value))}] / [{string.Join(",", second.Assignment.Select(p => p.Partition.Value))}]");
        Assert.True(SplitBetweenBoth(first.Assignment, second.Assignment, partitions),
            $"assignment not split after {sw.Elapsed}: [{string.Join(",", first.Assignment)}] / [{string.Join(",", second.Assignment)}]");

        // Records then reach the member that owns their partition.
        const int count = 40;
        using (var producer = new ProducerBuilder<string, string>(new ProducerConfig { BootstrapServers = kafka.BootstrapServers, Acks = Acks.All }).Build())
        {
            for (var i = 0; i < count; i++)
            {
                producer.Produce(new TopicPartition(topic, new Partition(i % partitions)), new Message<string, string> { Key = $"person-{i}", Value = $"{i}" });
            }

            producer.Flush(Ct);
        }

        var consumeDeadline = Stopwatch.StartNew();
        while (received.Sum(r => r.Count) < count && consumeDeadline.Elapsed < TimeSpan.FromSeconds(20))
        {
            PollAll();
        }

        Assert.Equal(count, received.Sum(r => r.Count));
        for (var m = 0; m < members.Length; m++)
        {
            var owned = members[m].Assignment.Select(p => p.Partition.Value).ToHashSet();
            Assert.NotEmpty(received[m]);
            Assert.All(received[m], r => Assert.Contains(r.Partition.Value, owned));
        }

        first.Close();
        second.Close();
    }

    [Fact]
    public async Task Broker_down_makes_produce_time_out_and_broker_up_lets_the_same_producer_recover()
    {
        // A broker of its own: taking the shared one down would disturb the tests running beside this one.
        kafka.RequireEmbeddedBroker("Taking a broker down");
        using var broker = EmbeddedKafkaBroker.Start();
        var topic = kafka.UniqueName("it-broker-down");
        broker.CreateTopic(topic, 1);

        using var producer = new ProducerBuilder<string, string>(new ProducerConfig
        {
            BootstrapServers = broker.BootstrapServers,
            Acks = Acks.All,
            EnableIdempotence = true,
            MessageTimeoutMs = 1500,
            ReconnectBackoffMs = 50,
            ReconnectBackoffMaxMs = 250,
        }).Build();

        var before = await producer.ProduceAsync(topic, new Message<string, string> { Key = "k", Value = "before" }, Ct);
        Assert.Equal(PersistenceStatus.Persisted, before.Status);

        var brokerIds = Enumerable.Range(1, broker.BrokerCount).ToList();
        try
        {
            brokerIds.ForEach(broker.SetBrokerDown);
            var sw = Stopwatch.StartNew();
            var failure = await Assert.ThrowsAsync<ProduceException<string, string>>(
                () => producer.ProduceAsync(topic, new Message<string, string> { Key = "k", Value = "while-down" }, Ct));
            Log($"produce while down failed after {sw.ElapsedMilliseconds} ms: {failure.Error.Code} {failure.Error.Reason}");

            Assert.Equal(ErrorCode.Local_MsgTimedOut, failure.Error.Code);
            Assert.False(failure.Error.IsFatal);
            Assert.InRange(sw.Elapsed, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(10));
        }
        finally
        {
            brokerIds.ForEach(broker.SetBrokerUp);
        }

        // Reconnecting can take longer than one message timeout on a busy machine: the same producer must
        // recover, so retry until a deadline rather than expecting the first attempt to make it.
        var upWatch = Stopwatch.StartNew();
        DeliveryResult<string, string>? after = null;
        while (after is null)
        {
            try
            {
                after = await producer.ProduceAsync(topic, new Message<string, string> { Key = "k", Value = "after" }, Ct);
            }
            catch (ProduceException<string, string> e) when (e.Error.Code == ErrorCode.Local_MsgTimedOut && upWatch.Elapsed < TimeSpan.FromSeconds(30))
            {
                Log($"produce after broker up timed out at {upWatch.ElapsedMilliseconds} ms; retrying");
            }
        }

        Log($"produce after broker up: {after.Status} at {after.TopicPartitionOffset} in {upWatch.ElapsedMilliseconds} ms");
        Assert.Equal(PersistenceStatus.Persisted, after.Status);
        Assert.True(after.Offset > before.Offset);
    }

    [Fact]
    public async Task Injected_produce_errors_are_retried_when_retriable_and_surface_when_not()
    {
        // A broker of its own: injected errors would hit every other test's requests on the shared one.
        kafka.RequireEmbeddedBroker("Injecting request errors");
        using var broker = EmbeddedKafkaBroker.Start();
        var topic = kafka.UniqueName("it-request-errors");
        broker.CreateTopic(topic, 1);

        using var producer = new ProducerBuilder<string, string>(new ProducerConfig
        {
            BootstrapServers = broker.BootstrapServers,
            Acks = Acks.All,
            EnableIdempotence = true,
            RetryBackoffMs = 20,
            MessageTimeoutMs = 10_000,
        }).Build();
        var first = await producer.ProduceAsync(topic, new Message<string, string> { Key = "k", Value = "0" }, Ct);

        try
        {
            broker.PushRequestErrors(KafkaApiKey.Produce, ErrorCode.NotEnoughReplicas, ErrorCode.NotEnoughReplicas);
            var retried = await producer.ProduceAsync(topic, new Message<string, string> { Key = "k", Value = "1" }, Ct);
            Assert.Equal(PersistenceStatus.Persisted, retried.Status);
            Assert.Equal(first.Offset + 1, retried.Offset); // retried, not duplicated

            broker.PushRequestErrors(KafkaApiKey.Produce, ErrorCode.TopicAuthorizationFailed);
            var failure = await Assert.ThrowsAsync<ProduceException<string, string>>(
                () => producer.ProduceAsync(topic, new Message<string, string> { Key = "k", Value = "2" }, Ct));
            Log($"non-retriable error surfaced as {failure.Error.Code} (fatal: {failure.Error.IsFatal})");
            Assert.Equal(ErrorCode.TopicAuthorizationFailed, failure.Error.Code);
        }
        finally
        {
            broker.ClearRequestErrors(KafkaApiKey.Produce);
        }
    }

    [Fact]
    public async Task Broker_round_trip_time_delays_acknowledgements()
    {
        // A broker of its own: added latency would slow every other test on the shared one.
        kafka.RequireEmbeddedBroker("Adding broker latency");
        using var broker = EmbeddedKafkaBroker.Start();
        var topic = kafka.UniqueName("it-rtt");
        broker.CreateTopic(topic, 1);

        using var producer = new ProducerBuilder<string, string>(new ProducerConfig { BootstrapServers = broker.BootstrapServers, Acks = Acks.All }).Build();
        await producer.ProduceAsync(topic, new Message<string, string> { Key = "k", Value = "warm-up" }, Ct);

        var sw = Stopwatch.StartNew();
        await producer.ProduceAsync(topic, new Message<string, string> { Key = "k", Value = "fast" }, Ct);
        var fast = sw.Elapsed;

        try
        {
            broker.SetBrokerRtt(-1, 400);
            sw.Restart();
            await producer.ProduceAsync(topic, new Message<string, string> { Key = "k", Value = "slow" }, Ct);
            var slow = sw.Elapsed;
            Log($"ack without RTT {fast.TotalMilliseconds:0} ms, with 400 ms RTT {slow.TotalMilliseconds:0} ms");
            Assert.True(slow >= TimeSpan.FromMilliseconds(380), $"ack took {slow.TotalMilliseconds:0} ms");
        }
        finally
        {
            broker.SetBrokerRtt(-1, 0);
        }
    }

    [Fact]
    public async Task Transactions_hide_aborted_records_and_commit_offsets_with_the_transaction()
    {
        kafka.SkipUnlessTransactions();

        var input = kafka.UniqueName("it-tx-in");
        var output = kafka.UniqueName("it-tx-out");
        var group = kafka.UniqueName("it-tx-group");
        await kafka.CreateTopicAsync(input, 1);
        await kafka.CreateTopicAsync(output, 1);

        using var producer = new ProducerBuilder<string, string>(new ProducerConfig
        {
            BootstrapServers = kafka.BootstrapServers,
            TransactionalId = kafka.UniqueName("it-tx"),
        }).Build();
        producer.InitTransactions(TimeSpan.FromSeconds(30));

        producer.BeginTransaction();
        await producer.ProduceAsync(output, new Message<string, string> { Key = "k", Value = "aborted" }, Ct);
        producer.AbortTransaction(TimeSpan.FromSeconds(30));

        using (var groupMember = new ConsumerBuilder<string, string>(kafka.ConsumerConfig(group)).Build())
        {
            producer.BeginTransaction();
            await producer.ProduceAsync(output, new Message<string, string> { Key = "k", Value = "committed" }, Ct);
            producer.SendOffsetsToTransaction([new TopicPartitionOffset(input, 0, 7)], groupMember.ConsumerGroupMetadata, TimeSpan.FromSeconds(30));
            producer.CommitTransaction(TimeSpan.FromSeconds(30));
        }

        var config = kafka.ConsumerConfig(kafka.UniqueName("it-tx-reader"));
        config.IsolationLevel = IsolationLevel.ReadCommitted;
        config.EnablePartitionEof = true;
        using var reader = new ConsumerBuilder<string, string>(config).Build();
        reader.Assign(new TopicPartitionOffset(output, 0, Offset.Beginning));
        var values = new List<string>();
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < TimeSpan.FromSeconds(20))
        {
            var record = reader.Consume(TimeSpan.FromMilliseconds(200));
            if (record is null)
            {
                continue;
            }

            if (record.IsPartitionEOF)
            {
                break;
            }

            values.Add(record.Message.Value);
        }

        Assert.Equal(["committed"], values);

        using var offsetsReader = new ConsumerBuilder<string, string>(kafka.ConsumerConfig(group)).Build();
        var committed = offsetsReader.Committed([new TopicPartition(input, 0)], TimeSpan.FromSeconds(10));
        Assert.Equal(7, committed.Single().Offset.Value);
    }

    /// <summary>
    /// Pins the documented limitation of the embedded broker, so a librdkafka upgrade that changes it
    /// fails here and the docs (architecture.md, EmbeddedKafkaBroker's remarks) get updated.
    /// </summary>
    [Fact]
    public async Task Embedded_broker_transactions_are_api_calls_only_read_committed_sees_aborted_records()
    {
        kafka.RequireEmbeddedBroker("Checking the embedded broker's documented transaction limitation");

        var output = kafka.UniqueName("it-tx-limit");
        await kafka.CreateTopicAsync(output, 1);

        using (var producer = new ProducerBuilder<string, string>(new ProducerConfig
               {
                   BootstrapServers = kafka.BootstrapServers,
                   TransactionalId = kafka.UniqueName("it-tx-limit"),
               }).Build())
        {
            producer.InitTransactions(TimeSpan.FromSeconds(10));
            producer.BeginTransaction();
            await producer.ProduceAsync(output, new Message<string, string> { Key = "k", Value = "aborted" }, Ct);
            producer.AbortTransaction(TimeSpan.FromSeconds(10));
        }

        var config = kafka.ConsumerConfig(kafka.UniqueName("it-tx-limit-reader"));
        config.IsolationLevel = IsolationLevel.ReadCommitted;
        using var reader = new ConsumerBuilder<string, string>(config).Build();
        reader.Assign(new TopicPartitionOffset(output, 0, Offset.Beginning));
        ConsumeResult<string, string>? seen = null;
        var sw = Stopwatch.StartNew();
        while (seen is null && sw.Elapsed < TimeSpan.FromSeconds(5))
        {
            seen = reader.Consume(TimeSpan.FromMilliseconds(200));
        }

        Assert.NotNull(seen);
        Assert.Equal("aborted", seen.Message.Value);
    }

    private static int ReadSeq(Headers headers) => BitConverter.ToInt32(headers.GetLastBytes("seq"));

    private static bool SplitBetweenBoth(List<TopicPartition> a, List<TopicPartition> b, int partitions) =>
        a.Count > 0 && b.Count > 0
        && a.Count + b.Count == partitions
        && !a.Select(p => p.Partition.Value).Intersect(b.Select(p => p.Partition.Value)).Any();
}

/// <summary>Tests that inject faults into the shared broker: run alone, never beside other collections.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SharedBrokerFaultsCollection
{
    public const string Name = "shared Kafka broker with fault injection";
}
