using System.Text.Json;
using System.Text.Json.Serialization;

namespace CioSegment.Contracts;

/// <summary>
/// The envelope of a Customer.io reporting webhook (one event per HTTP POST). The pipeline keeps the
/// raw bytes and reads them with <c>Utf8JsonReader</c>; this type is for tools and tests that build or
/// inspect webhooks. <see cref="Timestamp"/> and the fields in <see cref="Data"/> keep their JSON types,
/// because Customer.io sends ids and timestamps as numbers in some payloads and strings in others.
/// </summary>
public sealed record ReportingWebhook
{
    [JsonPropertyName("event_id")]
    public string? EventId { get; init; }

    /// <summary><c>email</c>, <c>sms</c>, <c>push</c>, <c>slack</c>, <c>webhook</c>, <c>in_app</c>, <c>whatsapp</c>, <c>customer</c>, or a newer one.</summary>
    [JsonPropertyName("object_type")]
    public string? ObjectType { get; init; }

    /// <summary><c>sent</c>, <c>opened</c>, <c>clicked</c>, ... (see docs/mapping.md).</summary>
    [JsonPropertyName("metric")]
    public string? Metric { get; init; }

    /// <summary>Unix seconds when the event happened: a number, or a numeric string.</summary>
    [JsonPropertyName("timestamp")]
    public JsonElement? Timestamp { get; init; }

    [JsonPropertyName("data")]
    public JsonElement? Data { get; init; }
}

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ReportingWebhook))]
public sealed partial class ContractsJsonContext : JsonSerializerContext;
