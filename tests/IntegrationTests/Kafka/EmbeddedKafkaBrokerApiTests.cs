using CioSegment.DevDoubles.Kafka;
using Confluent.Kafka;

namespace CioSegment.IntegrationTests.Kafka;

/// <summary>The <see cref="EmbeddedKafkaBroker"/> type itself, each test on a private instance (runs anywhere: it is in-process).</summary>
public sealed class EmbeddedKafkaBrokerApiTests
{
    [Fact]
    public void Start_with_three_brokers_lists_three_loopback_bootstrap_servers_and_says_what_it_is()
    {
        using var broker = EmbeddedKafkaBroker.Start(brokerCount: 3);

        var servers = broker.BootstrapServers.Split(',');
        Assert.Equal(3, servers.Length);
        Assert.All(servers, s => Assert.Matches(@"^127\.0\.0\.1:\d+$", s));
        Assert.Equal(3, broker.BrokerCount);
        Assert.Equal(3, broker.ReplicationFactor);
        Assert.Contains(EmbeddedKafkaBroker.Label, broker.ToString());
        Assert.Contains("not for production", broker.ToString());
        // The mock API has no ABI guarantee: a librdkafka upgrade must re-check the P/Invoke signatures.
        Assert.Equal("2.16.0", EmbeddedKafkaBroker.LibrdkafkaVersion);
        Assert.NotNull(EmbeddedKafkaBroker.NativeLibraryPath);
        TestContext.Current.TestOutputHelper?.WriteLine($"{broker}; native library {EmbeddedKafkaBroker.NativeLibraryPath}");
    }

    [Fact]
    public void Created_topic_is_visible_in_metadata_with_its_partitions_and_replication_factor()
    {
        using var broker = EmbeddedKafkaBroker.Start(brokerCount: 2);
        broker.CreateTopic("cio.webhooks.raw", 6);

        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = broker.BootstrapServers }).Build();
        var metadata = admin.GetMetadata("cio.webhooks.raw", TimeSpan.FromSeconds(10));

        Assert.Equal(2, metadata.Brokers.Count);
        var topic = Assert.Single(metadata.Topics);
        Assert.Equal(ErrorCode.NoError, topic.Error.Code);
        Assert.Equal(6, topic.Partitions.Count);
        Assert.All(topic.Partitions, p => Assert.Equal(2, p.Replicas.Length));
    }

    [Fact]
    public void Creating_an_existing_topic_throws_an_exception_naming_the_topic()
    {
        using var broker = EmbeddedKafkaBroker.Start();
        broker.CreateTopic("dup-topic", 1);

        var ex = Assert.Throws<EmbeddedKafkaBrokerException>(() => broker.CreateTopic("dup-topic", 1));

        Assert.Equal(ErrorCode.TopicAlreadyExists, ex.ErrorCode);
        Assert.Contains("'dup-topic'", ex.Message);
    }

    [Fact]
    public void Invalid_arguments_are_rejected_before_reaching_native_code()
    {
        using var broker = EmbeddedKafkaBroker.Start();

        Assert.Throws<ArgumentOutOfRangeException>(() => EmbeddedKafkaBroker.Start(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => broker.CreateTopic("t", 0));
        Assert.Throws<ArgumentException>(() => broker.CreateTopic(" ", 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => broker.SetBrokerDown(2));
        Assert.Throws<ArgumentOutOfRangeException>(() => broker.SetBrokerRtt(1, -5));
    }

    [Fact]
    public void Dispose_is_idempotent_and_later_calls_throw_ObjectDisposedException()
    {
        var broker = EmbeddedKafkaBroker.Start();
        broker.Dispose();
        broker.Dispose();

        Assert.True(broker.IsDisposed);
        Assert.Contains("(stopped)", broker.ToString());
        Assert.Throws<ObjectDisposedException>(() => broker.CreateTopic("t", 1));
        Assert.Throws<ObjectDisposedException>(() => broker.SetBrokerDown(1));
        Assert.Throws<ObjectDisposedException>(() => broker.PushRequestErrors(KafkaApiKey.Produce, ErrorCode.NotEnoughReplicas));
    }

    [Fact]
    public void Several_brokers_can_run_side_by_side_in_one_process()
    {
        using var a = EmbeddedKafkaBroker.Start();
        using var b = EmbeddedKafkaBroker.Start();

        Assert.NotEqual(a.BootstrapServers, b.BootstrapServers);
        a.CreateTopic("same-name", 1);
        b.CreateTopic("same-name", 1); // separate clusters, separate topic namespaces
    }
}
