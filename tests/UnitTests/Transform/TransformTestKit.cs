using System.Diagnostics.Metrics;
using System.Text;
using CioSegment.Contracts;
using CioSegment.Mapping.Settings;
using CioSegment.Processor.Transform;
using Confluent.Kafka;

namespace CioSegment.UnitTests.Transform;

/// <summary>Builds transformers and raw records for tests.</summary>
internal static class TransformTestKit
{
    public const string RawTopic = "raw";

    public static readonly TransformerOptions Options = new()
    {
        InputTopic = RawTopic,
        SinkTopic = "sink",
        DeadLetterTopic = "dlq",
        ChangelogTopic = "changelog",
    };

    public static SourceCatalog Sources(SendFrequency frequency = SendFrequency.Every, IReadOnlyList<string>? enabled = null) => new([
        SourceSettings.Create("acme", new SourceOptions
        {
            WebhookSigningKey = "k",
            WriteKey = "w",
            SendFrequency = frequency.ToString(),
            EnabledEvents = enabled?.ToList(),
        }),
    ]);

    public static WebhookTransformer Transformer(SourceCatalog? sources = null, TransformerOptions? options = null, Meter? meter = null) =>
        new(sources ?? Sources(), options ?? Options, CioSegment.KafkaDouble.SinkRecords.Serializer, meter ?? new Meter("test-" + Guid.NewGuid()));

    public static ConsumeResult<byte[]?, byte[]> Record(string body, int partition = 0, long offset = 0, string? source = "acme", string key = "cool-person")
    {
        var headers = new Headers();
        if (source is not null)
        {
            headers.Add(HeaderNames.SourceId, Encoding.UTF8.GetBytes(source));
        }

        headers.Add(HeaderNames.ReceivedAt, "1700000000000"u8.ToArray());
        headers.Add(HeaderNames.TraceParent, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"u8.ToArray());
        return new ConsumeResult<byte[]?, byte[]>
        {
            Topic = RawTopic,
            Partition = new Partition(partition),
            Offset = new Offset(offset),
            Message = new Message<byte[]?, byte[]>
            {
                Key = Encoding.UTF8.GetBytes(key),
                Value = Encoding.UTF8.GetBytes(body),
                Headers = headers,
                Timestamp = new Timestamp(DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_500)),
            },
        };
    }

    public static string Header(this OutboundRecord record, string name) =>
        record.Headers.TryGetLastBytes(name, out var value) ? Encoding.UTF8.GetString(value) : throw new KeyNotFoundException(name);

    public static SegmentTrackRecord ReadSink(byte[] value) => CioSegment.KafkaDouble.SinkRecords.Read(value);
}
