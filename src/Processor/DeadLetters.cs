using System.Globalization;
using System.Text;
using CioSegment.Contracts;
using Confluent.Kafka;

namespace CioSegment.Processor;

/// <summary>The headers of a dead letter: the original record's headers plus why, where and from which record.</summary>
public static class DeadLetters
{
    public static Headers Headers(Headers original, string reason, string detail, string stage, TopicPartitionOffset origin)
    {
        var headers = new Headers();
        foreach (var header in original)
        {
            headers.Add(header.Key, header.GetValueBytes());
        }

        headers.Add(HeaderNames.DeadLetterReason, Encoding.UTF8.GetBytes(reason));
        headers.Add(HeaderNames.DeadLetterDetail, Encoding.UTF8.GetBytes(detail));
        headers.Add(HeaderNames.DeadLetterStage, Encoding.UTF8.GetBytes(stage));
        headers.Add(HeaderNames.DeadLetterSourceTopic, Encoding.UTF8.GetBytes(origin.Topic));
        headers.Add(HeaderNames.DeadLetterSourcePartition, Encoding.UTF8.GetBytes(origin.Partition.Value.ToString(CultureInfo.InvariantCulture)));
        headers.Add(HeaderNames.DeadLetterSourceOffset, Encoding.UTF8.GetBytes(origin.Offset.Value.ToString(CultureInfo.InvariantCulture)));
        return headers;
    }
}
