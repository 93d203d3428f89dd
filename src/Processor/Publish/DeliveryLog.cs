using System.Buffers;
using System.Diagnostics.Metrics;
using System.Text;
using System.Text.Json;
using Confluent.Kafka;

namespace CioSegment.Processor.Publish;

/// <summary>
/// A compact record of every Segment request the publisher made, to <see cref="PublisherOptions.DeliveriesTopic"/>
/// (<c>cio.segment.deliveries</c>), keyed by source: which events (messageId and the Kafka coordinates of the
/// record they came from), which attempt, Segment's status (0: no answer), through which path (sink or held)
/// and when. It answers "what became of this event at Segment?" without reading the sink topic again.
/// <code>{"source":"acme","status":200,"attempt":0,"path":"sink","at":"2026-01-31T08:00:00.123Z",
///  "events":[{"messageId":"cio-…","topic":"cio.segment.track","partition":3,"offset":1234}]}</code>
/// Best effort: a record the broker does not take is counted (<c>cio.publisher.delivery_log_errors</c>) and
/// dropped; delivery itself never waits for the log. Thread-safe (called from sending tasks).
/// </summary>
public sealed class DeliveryLog(IProducer<byte[]?, byte[]?> producer, string topic, Meter meter)
{
    private readonly Counter<long> _errors = CreateErrors(meter);

    public string Topic { get; } = topic;

    /// <summary>Logs one answer (or its absence) to one request.</summary>
    public void Record(string source, IReadOnlyList<PendingEvent> batch, int status, int attempt, bool held, DateTimeOffset at)
    {
        var buffer = new ArrayBufferWriter<byte>(128 + (batch.Count * 96));
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("source"u8, source);
            json.WriteNumber("status"u8, status);
            json.WriteNumber("attempt"u8, attempt);
            json.WriteString("path"u8, held ? "held"u8 : "sink"u8);
            json.WriteString("at"u8, at.UtcDateTime);
            json.WriteStartArray("events"u8);
            foreach (var e in batch)
            {
                json.WriteStartObject();
                json.WriteString("messageId"u8, e.MessageId);
                json.WriteString("topic"u8, e.Origin.Topic);
                json.WriteNumber("partition"u8, e.Origin.Partition.Value);
                json.WriteNumber("offset"u8, e.Origin.Offset.Value);
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        try
        {
            producer.Produce(Topic, new Message<byte[]?, byte[]?> { Key = Encoding.UTF8.GetBytes(source), Value = buffer.WrittenSpan.ToArray() }, report =>
            {
                if (report.Error.IsError)
                {
                    _errors.Add(1);
                }
            });
        }
        catch (KafkaException)
        {
            // Queue full or a producer in a fatal state: the log loses this record; delivery goes on.
            _errors.Add(1);
        }
    }

    private static Counter<long> CreateErrors(Meter meter)
    {
        var errors = meter.CreateCounter<long>("cio.publisher.delivery_log_errors", "{record}", "Delivery log records the broker did not take (the log is best effort; delivery is not affected).");
        errors.Add(0);
        return errors;
    }
}
