using System.Text;
using Confluent.Kafka;

namespace CioSegment.ServiceDefaults;

/// <summary>Reading the pipeline's record headers, whose values are UTF-8 text.</summary>
public static class KafkaHeaders
{
    /// <summary>The last value of header <paramref name="name"/> as text; null when the record has none.</summary>
    public static string? Text(this Headers? headers, string name) =>
        headers is not null && headers.TryGetLastBytes(name, out var bytes) ? Encoding.UTF8.GetString(bytes) : null;
}
