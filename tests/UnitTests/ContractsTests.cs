using Avro;
using Avro.IO;
using Avro.Specific;
using CioSegment.Contracts;

namespace CioSegment.UnitTests;

public class ContractsTests
{
    [Fact]
    public void Sink_record_schema_has_the_documented_fields_and_no_write_key()
    {
        var schema = Assert.IsType<RecordSchema>(SegmentTrackRecord.AvroSchema);
        Assert.Equal("CioSegment.Contracts.SegmentTrackRecord", schema.Fullname);
        Assert.Equal(["source_id", "message_id", "person_key", "event", "received_at", "track_json"], schema.Fields.Select(f => f.Name).ToArray());
        Assert.DoesNotContain(schema.Fields, f => f.Name.Contains("key", StringComparison.OrdinalIgnoreCase) && f.Name != "person_key");
    }

    [Fact]
    public void Sink_record_round_trips_through_avro_binary()
    {
        var record = new SegmentTrackRecord
        {
            SourceId = "acme",
            MessageId = "cio-01E4",
            PersonKey = "cool-person",
            Event = "Email Opened",
            ReceivedAt = new DateTime(2024, 3, 1, 12, 0, 0, 250, DateTimeKind.Utc),
            TrackJson = """{"type":"track"}"""u8.ToArray(),
        };

        using var stream = new MemoryStream();
        new SpecificDatumWriter<SegmentTrackRecord>(SegmentTrackRecord.AvroSchema).Write(record, new BinaryEncoder(stream));
        stream.Position = 0;
        var read = new SpecificDatumReader<SegmentTrackRecord>(SegmentTrackRecord.AvroSchema, SegmentTrackRecord.AvroSchema)
            .Read(null!, new BinaryDecoder(stream));

        Assert.Equal(record.SourceId, read.SourceId);
        Assert.Equal(record.MessageId, read.MessageId);
        Assert.Equal(record.PersonKey, read.PersonKey);
        Assert.Equal(record.Event, read.Event);
        Assert.Equal(record.ReceivedAt, read.ReceivedAt);
        Assert.Equal(record.TrackJson, read.TrackJson);
    }

    [Fact]
    public void The_avsc_file_in_the_repository_is_the_embedded_schema()
    {
        var file = Path.Combine(RepositoryPaths.Root, "src", "Contracts", "Avro", "SegmentTrackRecord.avsc");
        Assert.Equal(Schema.Parse(File.ReadAllText(file)), SegmentTrackRecord.AvroSchema);
    }

    [Fact]
    public void Topic_names_are_the_documented_ones()
    {
        Assert.Equal("cio.webhooks.raw", Topics.RawWebhooks);
        Assert.Equal("cio.segment.track", Topics.SegmentTrack);
        Assert.Equal("cio.webhooks.dlq", Topics.WebhooksDeadLetter);
        Assert.Equal("cio.segment.dlq", Topics.SegmentDeadLetter);
        Assert.Equal("cio.processor.dedup-changelog", Topics.DedupChangelog);
    }
}
