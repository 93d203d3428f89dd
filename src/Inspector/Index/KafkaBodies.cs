using CioSegment.ServiceDefaults;
using Confluent.Kafka;

namespace CioSegment.Inspector.Index;

/// <summary>
/// Reads one record at given coordinates, for the detail page: the index keeps where bodies are, not the bodies.
/// One consumer, no group, nothing committed; one read at a time. A record gone with the topic's retention is
/// reported as gone.
/// </summary>
public sealed class KafkaBodies(KafkaClientFactory kafka) : IDisposable
{
    private readonly SemaphoreSlim _one = new(1, 1);
    private IConsumer<byte[]?, byte[]?>? _consumer;

    public async Task<ConsumeResult<byte[]?, byte[]?>?> ReadAsync(string topic, int partition, long offset, CancellationToken cancel)
    {
        await _one.WaitAsync(cancel);
        try
        {
            return await Task.Run(() => Read(new TopicPartitionOffset(topic, partition, offset)), cancel);
        }
        finally
        {
            _one.Release();
        }
    }

    private ConsumeResult<byte[]?, byte[]?>? Read(TopicPartitionOffset at)
    {
        _consumer ??= kafka.Consumer<byte[]?, byte[]?>("cio-inspector-reader", new ConsumerConfig
        {
            GroupId = "cio-inspector-reader-unused",
            EnableAutoCommit = false,
            EnableAutoOffsetStore = false,
            IsolationLevel = IsolationLevel.ReadUncommitted,
        }).Build();
        _consumer.Assign(at);
        try
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
            while (DateTime.UtcNow < deadline)
            {
                var record = _consumer.Consume(TimeSpan.FromMilliseconds(500));
                if (record is null)
                {
                    continue;
                }

                if (record.Offset.Value == at.Offset.Value)
                {
                    return record;
                }

                if (record.Offset.Value > at.Offset.Value)
                {
                    return null;
                }
            }

            return null;
        }
        catch (ConsumeException)
        {
            return null;
        }
        finally
        {
            _consumer.Unassign();
        }
    }

    public void Dispose()
    {
        _consumer?.Close();
        _consumer?.Dispose();
        _one.Dispose();
    }
}
