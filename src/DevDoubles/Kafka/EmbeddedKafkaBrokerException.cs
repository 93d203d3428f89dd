using Confluent.Kafka;

namespace CioSegment.DevDoubles.Kafka;

/// <summary>
/// A call into the embedded development broker (librdkafka mock cluster) failed.
/// </summary>
public sealed class EmbeddedKafkaBrokerException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What failed, naming the topic / broker involved.</param>
    /// <param name="errorCode">The librdkafka error code, <see cref="ErrorCode.NoError"/> when there is none.</param>
    public EmbeddedKafkaBrokerException(string message, ErrorCode errorCode = ErrorCode.NoError)
        : base(message)
    {
        ErrorCode = errorCode;
    }

    /// <summary>The librdkafka error code returned by the native call (same numbering as Confluent.Kafka).</summary>
    public ErrorCode ErrorCode { get; }
}
