using CioSegment.Contracts;
using CioSegment.DevDoubles.Kafka;

namespace CioSegment.DevHost;

/// <summary>Creates <see cref="Topics.All"/> on the embedded broker.</summary>
public static class PipelineTopics
{
    /// <summary>Every pipeline topic: those partitioned like the raw topic with <paramref name="partitions"/>, dead letters with one.</summary>
    public static void CreatePipelineTopics(this EmbeddedKafkaBroker broker, int partitions)
    {
        foreach (var topic in Topics.All)
        {
            broker.CreateTopic(topic.Name, topic.PartitionedLikeRaw ? partitions : 1);
        }
    }
}
