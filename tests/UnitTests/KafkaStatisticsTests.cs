using CioSegment.ServiceDefaults;

namespace CioSegment.UnitTests;

/// <summary>librdkafka statistics documents (STATISTICS.md shape, trimmed) into what the metrics report.</summary>
public sealed class KafkaStatisticsTests
{
    private const string Consumer = """
        {
          "name": "cio-transformer#consumer-3", "client_id": "cio-transformer", "type": "consumer",
          "ts": 5016483227792, "time": 1527060869, "msg_cnt": 7, "msg_size": 1400,
          "brokers": {
            "kafka-0:9092/0": { "name": "kafka-0:9092/0", "nodeid": 0, "nodename": "kafka-0:9092", "source": "learned", "state": "UP",
                                "txerrs": 2, "rxerrs": 1, "rtt": { "min": 100, "max": 9000, "avg": 2500, "p99": 8000 } },
            "GroupCoordinator": { "name": "GroupCoordinator", "nodeid": 0, "nodename": "kafka-0:9092", "source": "logical", "state": "UP",
                                "txerrs": 0, "rxerrs": 0, "rtt": { "avg": 1 } },
            "sasl_ssl://bootstrap:9092/bootstrap": { "name": "bootstrap", "nodeid": -1, "source": "configured", "txerrs": 5, "rtt": { "avg": 99 } }
          },
          "topics": {
            "cio.webhooks.raw": { "topic": "cio.webhooks.raw", "partitions": {
              "0": { "partition": 0, "consumer_lag": 42 },
              "1": { "partition": 1, "consumer_lag": -1 },
              "-1": { "partition": -1, "consumer_lag": -1 }
            } }
          }
        }
        """;

    [Fact]
    public void Lag_queue_rtt_and_errors_come_from_the_real_brokers_and_assigned_partitions()
    {
        var stats = KafkaStatistics.Parse(Consumer);

        Assert.NotNull(stats);
        Assert.Equal("cio-transformer#consumer-3", stats.Name);
        Assert.Equal("cio-transformer", stats.ClientId);
        Assert.Equal("consumer", stats.Type);
        Assert.Equal(7, stats.QueuedMessages);

        // The logical coordinator and the bootstrap entry repeat real brokers; only node 0 counts.
        var broker = Assert.Single(stats.Brokers);
        Assert.Equal("kafka-0:9092", broker.Name);
        Assert.Equal(0.0025, broker.RttSeconds, 6);
        Assert.Equal(3, broker.RequestErrors);

        // Unknown lag (-1) and librdkafka's internal partition -1 are not reported.
        var lag = Assert.Single(stats.Lags);
        Assert.Equal(new PartitionLag("cio.webhooks.raw", 0, 42), lag);
    }

    [Theory]
    [InlineData("")]
    [InlineData("not json")]
    [InlineData("[1,2]")]
    [InlineData("{\"brokers\":[],\"topics\":{\"t\":{\"partitions\":7}}}")]
    public void A_document_that_is_not_statistics_gives_nothing_or_an_empty_record_never_an_exception(string json)
    {
        var stats = KafkaStatistics.Parse(json);
        Assert.True(stats is null || (stats.Brokers.Count == 0 && stats.Lags.Count == 0));
    }

    [Fact]
    public void Recorded_documents_are_parsed_when_read_and_forgotten_clients_disappear()
    {
        var name = "unit-" + Guid.NewGuid().ToString("N");
        KafkaStatistics.Record(name, Consumer.Replace("cio-transformer#consumer-3", name, StringComparison.Ordinal));
        Assert.Contains(KafkaStatistics.Current(), c => c.Name == name && c.Lags.Count == 1);

        KafkaStatistics.Forget(name);
        Assert.DoesNotContain(KafkaStatistics.Current(), c => c.Name == name);
    }

    [Fact]
    public void Enabling_keeps_an_interval_the_operator_configured()
    {
        Assert.Equal(KafkaStatistics.DefaultIntervalMs, KafkaStatistics.Enable(new Confluent.Kafka.ConsumerConfig()).StatisticsIntervalMs);
        Assert.Equal(60_000, KafkaStatistics.Enable(new Confluent.Kafka.ConsumerConfig { StatisticsIntervalMs = 60_000 }).StatisticsIntervalMs);
    }
}
