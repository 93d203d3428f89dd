using CioSegment.Processor;
using CioSegment.Contracts;
using CioSegment.DevDoubles.SchemaRegistry;
using CioSegment.Processor.Transform;
using Confluent.Kafka;
using Confluent.Kafka.SyncOverAsync;
using Confluent.SchemaRegistry;
using Confluent.SchemaRegistry.Serdes;

namespace CioSegment.IntegrationTests.Transform;

/// <summary>
/// The sink record's codec (<c>src/Processor/SinkRecordCodec.cs</c>): the transformer's direct Avro encoder is
/// byte-for-byte Confluent's AvroSerializer, and both Confluent's deserializer and the publisher's reader read it back.
/// </summary>
public sealed class SinkRecordCodecTests
{
    [Theory]
    [InlineData("acme", "cio-01E4", "cool-person", "Email Opened", 1_700_000_000_123L, 500)]
    [InlineData("a", "", "caf\u00e9 \ud83d\ude00", "In-App Link Clicked", 1L, 0)]
    [InlineData("source-with-a-longer-name", "cio-h-ABCDEFGHIJKLMNOPQRSTUVWXYZ", "p", "X", 253_402_300_799_000L, 40_000)]
    public async Task Encodes_exactly_as_the_confluent_serializer_and_decodes_with_it(string source, string messageId, string person, string eventName, long receivedAtMs, int trackBytes)
    {
        await using var server = await DevSchemaRegistryServer.StartAsync();
        using var client = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = server.Url.ToString() });
        var record = new SegmentTrackRecord
        {
            SourceId = source,
            MessageId = messageId,
            PersonKey = person,
            Event = eventName,
            ReceivedAt = DateTimeOffset.FromUnixTimeMilliseconds(receivedAtMs).UtcDateTime,
            TrackJson = Enumerable.Range(0, trackBytes).Select(i => (byte)('a' + (i % 26))).ToArray(),
        };
        var context = new SerializationContext(MessageComponentType.Value, "cio.segment.track");

        var ours = new SegmentTrackRecordSerializer(client).Serialize(record, context);
        var theirs = new AvroSerializer<SegmentTrackRecord>(client).AsSyncOverAsync().Serialize(record, context);
        Assert.Equal(theirs, ours);

        using var reader = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = server.Url.ToString() });
        var back = new AvroDeserializer<SegmentTrackRecord>(reader).AsSyncOverAsync().Deserialize(ours, false, context);
        Assert.Equal(record.SourceId, back.SourceId);
        Assert.Equal(record.MessageId, back.MessageId);
        Assert.Equal(record.PersonKey, back.PersonKey);
        Assert.Equal(record.Event, back.Event);
        Assert.Equal(record.ReceivedAt, back.ReceivedAt);
        Assert.Equal(record.TrackJson, back.TrackJson);

        // The publisher's reader (the other half of the codec) reads what the transformer wrote.
        var view = new SegmentTrackRecordViewDeserializer(reader).Deserialize(ours, false, context);
        Assert.Equal(
            new SegmentTrackRecordView(record.SourceId, record.MessageId, record.PersonKey, record.Event, receivedAtMs, []) with { TrackJson = view.TrackJson },
            view);
        Assert.Equal(record.TrackJson, view.TrackJson);
    }
}
