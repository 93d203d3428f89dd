namespace CioSegment.DevDoubles.Kafka;

/// <summary>
/// Kafka protocol request types (ApiKey), for <see cref="EmbeddedKafkaBroker.PushRequestErrors"/>.
/// Values are the protocol's own numbers; any other request type can be passed by casting its number.
/// </summary>
public enum KafkaApiKey : short
{
    /// <summary>ProduceRequest.</summary>
    Produce = 0,

    /// <summary>FetchRequest.</summary>
    Fetch = 1,

    /// <summary>ListOffsetsRequest.</summary>
    ListOffsets = 2,

    /// <summary>MetadataRequest.</summary>
    Metadata = 3,

    /// <summary>OffsetCommitRequest.</summary>
    OffsetCommit = 8,

    /// <summary>OffsetFetchRequest.</summary>
    OffsetFetch = 9,

    /// <summary>FindCoordinatorRequest.</summary>
    FindCoordinator = 10,

    /// <summary>JoinGroupRequest.</summary>
    JoinGroup = 11,

    /// <summary>HeartbeatRequest.</summary>
    Heartbeat = 12,

    /// <summary>LeaveGroupRequest.</summary>
    LeaveGroup = 13,

    /// <summary>SyncGroupRequest.</summary>
    SyncGroup = 14,

    /// <summary>InitProducerIdRequest.</summary>
    InitProducerId = 22,

    /// <summary>AddPartitionsToTxnRequest.</summary>
    AddPartitionsToTxn = 24,

    /// <summary>AddOffsetsToTxnRequest.</summary>
    AddOffsetsToTxn = 25,

    /// <summary>EndTxnRequest.</summary>
    EndTxn = 26,

    /// <summary>TxnOffsetCommitRequest.</summary>
    TxnOffsetCommit = 28,
}
