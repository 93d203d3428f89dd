using Confluent.Kafka;

namespace CioSegment.KafkaDouble;

/// <summary>
/// A <see cref="ConsumerDouble"/> seen through a value deserializer, as Confluent.Kafka's consumer does it
/// (<c>Consumer.ConsumeImpl</c>): the position has moved past a record whose value cannot be deserialized,
/// and the failure is a <see cref="ConsumeException"/> with <c>Local_ValueDeserialization</c>, the raw record
/// and the deserializer's exception inside.
/// </summary>
internal sealed class DeserializingConsumer<TValue>(ConsumerDouble inner, IDeserializer<TValue> deserializer) : IConsumer<byte[]?, TValue>
{
    public ConsumerDouble Inner => inner;

    public string MemberId => inner.MemberId;

    public List<TopicPartition> Assignment => inner.Assignment;

    public List<string> Subscription => inner.Subscription;

    public IConsumerGroupMetadata ConsumerGroupMetadata => inner.ConsumerGroupMetadata;

    public Handle Handle => inner.Handle;

    public string Name => inner.Name;

    public ConsumeResult<byte[]?, TValue>? Consume(int millisecondsTimeout) => Deserialize(inner.Consume(millisecondsTimeout));

    public ConsumeResult<byte[]?, TValue>? Consume(CancellationToken cancellationToken = default) => Deserialize(inner.Consume(cancellationToken));

    public ConsumeResult<byte[]?, TValue>? Consume(TimeSpan timeout) => Deserialize(inner.Consume(timeout));

    public void Subscribe(IEnumerable<string> topics) => inner.Subscribe(topics);

    public void Subscribe(string topic) => inner.Subscribe(topic);

    public void Unsubscribe() => inner.Unsubscribe();

    public void Assign(TopicPartition partition) => inner.Assign(partition);

    public void Assign(TopicPartitionOffset partition) => inner.Assign(partition);

    public void Assign(IEnumerable<TopicPartitionOffset> partitions) => inner.Assign(partitions);

    public void Assign(IEnumerable<TopicPartition> partitions) => inner.Assign(partitions);

    public void IncrementalAssign(IEnumerable<TopicPartitionOffset> partitions) => inner.IncrementalAssign(partitions);

    public void IncrementalAssign(IEnumerable<TopicPartition> partitions) => inner.IncrementalAssign(partitions);

    public void IncrementalUnassign(IEnumerable<TopicPartition> partitions) => inner.IncrementalUnassign(partitions);

    public void Unassign() => inner.Unassign();

    public void StoreOffset(ConsumeResult<byte[]?, TValue> result) => inner.StoreOffset(new TopicPartitionOffset(result.TopicPartition, result.Offset.Value + 1));

    public void StoreOffset(TopicPartitionOffset offset) => inner.StoreOffset(offset);

    public List<TopicPartitionOffset> Commit() => inner.Commit();

    public void Commit(IEnumerable<TopicPartitionOffset> offsets) => inner.Commit(offsets);

    public void Commit(ConsumeResult<byte[]?, TValue> result) => inner.Commit([new TopicPartitionOffset(result.TopicPartition, result.Offset.Value + 1)]);

    public void Seek(TopicPartitionOffset tpo) => inner.Seek(tpo);

    public void Pause(IEnumerable<TopicPartition> partitions) => inner.Pause(partitions);

    public void Resume(IEnumerable<TopicPartition> partitions) => inner.Resume(partitions);

    public List<TopicPartitionOffset> Committed(TimeSpan timeout) => inner.Committed(timeout);

    public List<TopicPartitionOffset> Committed(IEnumerable<TopicPartition> partitions, TimeSpan timeout) => inner.Committed(partitions, timeout);

    public Offset Position(TopicPartition partition) => inner.Position(partition);

    public List<TopicPartitionOffset> OffsetsForTimes(IEnumerable<TopicPartitionTimestamp> timestampsToSearch, TimeSpan timeout) => inner.OffsetsForTimes(timestampsToSearch, timeout);

    public WatermarkOffsets GetWatermarkOffsets(TopicPartition topicPartition) => inner.GetWatermarkOffsets(topicPartition);

    public WatermarkOffsets QueryWatermarkOffsets(TopicPartition topicPartition, TimeSpan timeout) => inner.QueryWatermarkOffsets(topicPartition, timeout);

    public void Close() => inner.Close();

    public int AddBrokers(string brokers) => inner.AddBrokers(brokers);

    public void SetSaslCredentials(string username, string password) => inner.SetSaslCredentials(username, password);

    public void Dispose() => inner.Dispose();

    private ConsumeResult<byte[]?, TValue>? Deserialize(ConsumeResult<byte[]?, byte[]?>? raw)
    {
        if (raw is null)
        {
            return null;
        }

        TValue value;
        try
        {
            var bytes = raw.Message.Value;
            value = deserializer.Deserialize(bytes, bytes is null, new SerializationContext(MessageComponentType.Value, raw.Topic, raw.Message.Headers));
        }
        catch (Exception e)
        {
            throw new ConsumeException(
                new ConsumeResult<byte[], byte[]>
                {
                    TopicPartitionOffset = raw.TopicPartitionOffset,
                    Message = new Message<byte[], byte[]> { Timestamp = raw.Message.Timestamp, Headers = raw.Message.Headers, Key = raw.Message.Key!, Value = raw.Message.Value! },
                    IsPartitionEOF = false,
                },
                new Error(ErrorCode.Local_ValueDeserialization),
                e);
        }

        return new ConsumeResult<byte[]?, TValue>
        {
            TopicPartitionOffset = raw.TopicPartitionOffset,
            Message = new Message<byte[]?, TValue> { Timestamp = raw.Message.Timestamp, Headers = raw.Message.Headers, Key = raw.Message.Key, Value = value },
            IsPartitionEOF = false,
        };
    }
}
