using System.Text;
using CioSegment.Contracts;
using CioSegment.Inspector.Index;
using CioSegment.Processor;
using CioSegment.ServiceDefaults;
using Confluent.Kafka;
using Microsoft.Extensions.Options;

namespace CioSegment.Inspector.Web;

/// <summary>What the detail page shows from Kafka: the raw webhook, the track event sent, the dead letter's detail.</summary>
public sealed record TrailContent(string? Body, string? Track, string? DeadLetterDetail);

/// <summary>Reads a trail's bodies from Kafka, at the coordinates the index kept.</summary>
public sealed class BodyReader(KafkaBodies kafka, IDeserializer<SegmentTrackRecordView> sinkRecords, IOptions<InspectorOptions> options, ILogger<BodyReader> logger)
{
    private readonly InspectorOptions _options = options.Value;

    public async Task<TrailContent> ReadAsync(EventTrail trail, CancellationToken cancel)
    {
        var w = trail.Summary.Webhook;
        string? body = null, track = null, detail = null;
        try
        {
            if (await kafka.ReadAsync(_options.RawTopic, w.Partition, w.Offset, cancel) is { Message.Value: { } raw })
            {
                body = Encoding.UTF8.GetString(raw);
            }

            var trackFact = trail.Facts.FirstOrDefault(f => f.Kind == FactKind.Mapped) ?? trail.Facts.FirstOrDefault(f => f.Kind is FactKind.Held or FactKind.Attempt);
            if (trail.Summary.Outcome is not (Outcomes.Filtered or Outcomes.Deduplicated) && trackFact is not null
                && await kafka.ReadAsync(InspectorEndpoints.TopicName(trackFact.Topic, _options), trackFact.Partition, trackFact.Offset, cancel) is { Message.Value: { } sink } record)
            {
                var view = sinkRecords.Deserialize(sink, false, new SerializationContext(MessageComponentType.Value, record.Topic, record.Message.Headers));
                track = Encoding.UTF8.GetString(view.TrackJson);
            }

            var deadLetter = trail.Facts.LastOrDefault(f => (f.Kind == FactKind.TransformDeadLettered && f.Wid == w.Wid) || f.Kind == FactKind.PublishDeadLettered);
            if (deadLetter is not null
                && await kafka.ReadAsync(InspectorEndpoints.TopicName(deadLetter.Topic, _options), deadLetter.Partition, deadLetter.Offset, cancel) is { } letter)
            {
                detail = letter.Message.Headers.Text(HeaderNames.DeadLetterDetail);
            }
        }
        catch (Exception e) when (e is KafkaException or InvalidDataException or HttpRequestException or Avro.AvroException or Confluent.SchemaRegistry.SchemaRegistryException)
        {
            logger.LogWarning("Could not read the records of {Source}/{Id} from Kafka: {Reason}", w.Source, w.EventId, e.Message);
        }

        return new TrailContent(InspectorEndpoints.Mask(body, _options), InspectorEndpoints.Mask(track, _options), InspectorEndpoints.Mask(detail, _options));
    }
}
