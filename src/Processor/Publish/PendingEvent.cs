using Confluent.Kafka;

namespace CioSegment.Processor.Publish;

/// <summary>
/// One track event on its way to Segment, with where it came from (for offsets and dead letters) and when
/// the ingest received its webhook (unix ms; 0 when unknown), for the event-age metric, and the person key and
/// event name, to park it in the held topic as the sink record it came from.
/// </summary>
public sealed record PendingEvent(TopicPartitionOffset Origin, string SourceId, string MessageId, byte[]? Key, byte[] TrackJson, Headers Headers, long ReceivedAtMs = 0, string PersonKey = "", string Event = "");
