using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace CioSegment.DevDoubles.SchemaRegistry;

/// <summary>The JSON bodies of Confluent Schema Registry's REST API that the development/test double reads and writes.</summary>
internal static class DevSchemaRegistryJson
{
    /// <summary>Confluent Schema Registry's own media type, which its clients ask for and accept.</summary>
    public const string ContentType = "application/vnd.schemaregistry.v1+json";

    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.General)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        // Schema texts are JSON themselves: write \" rather than \u0022 so they stay readable. Never rendered as HTML.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static SchemaResponse ToResponse(DevSchema schema, bool includeId) => new()
    {
        Id = includeId ? schema.Id : null,
        Guid = schema.Guid,
        Schema = schema.SchemaText,
        SchemaType = SchemaTypeForResponse(schema.SchemaType),
        References = ReferencesForResponse(schema.References),
    };

    public static RegisteredSchemaResponse ToResponse(DevRegisteredSchema registered) => new()
    {
        Subject = registered.Subject,
        Version = registered.Version,
        Id = registered.Id,
        Guid = registered.Schema.Guid,
        Schema = registered.Schema.SchemaText,
        SchemaType = SchemaTypeForResponse(registered.Schema.SchemaType),
        References = ReferencesForResponse(registered.Schema.References),
    };

    // Confluent Schema Registry leaves schemaType out for AVRO (clients default it) and references out when empty.
    private static string? SchemaTypeForResponse(string schemaType) =>
        schemaType == DevSchemaRegistry.DefaultSchemaType ? null : schemaType;

    private static List<ReferenceJson>? ReferencesForResponse(IReadOnlyList<DevSchemaReference> references) =>
        references.Count == 0
            ? null
            : [.. references.Select(r => new ReferenceJson { Name = r.Name, Subject = r.Subject, Version = r.Version })];

    /// <summary>Body of <c>POST /subjects/{subject}/versions</c> and <c>POST /subjects/{subject}</c>.</summary>
    /// <remarks><c>metadata</c> and <c>ruleSet</c> (data contracts) are accepted and ignored.</remarks>
    internal sealed class SchemaRequest
    {
        [JsonPropertyName("schema")]
        public string? Schema { get; set; }

        [JsonPropertyName("schemaType")]
        public string? SchemaType { get; set; }

        [JsonPropertyName("references")]
        public List<ReferenceJson>? References { get; set; }
    }

    internal sealed class ReferenceJson
    {
        [JsonPropertyName("name")]
        public string? Name { get; set; }

        [JsonPropertyName("subject")]
        public string? Subject { get; set; }

        [JsonPropertyName("version")]
        public int Version { get; set; }
    }

    /// <summary>Body of <c>GET /schemas/ids/{id}</c> and <c>GET /schemas/guids/{guid}</c>.</summary>
    internal sealed class SchemaResponse
    {
        [JsonPropertyName("id")]
        public int? Id { get; set; }

        [JsonPropertyName("guid")]
        public Guid Guid { get; set; }

        [JsonPropertyName("schema")]
        public required string Schema { get; set; }

        [JsonPropertyName("schemaType")]
        public string? SchemaType { get; set; }

        [JsonPropertyName("references")]
        public List<ReferenceJson>? References { get; set; }
    }

    /// <summary>Body of the register, lookup and get-version responses.</summary>
    internal sealed class RegisteredSchemaResponse
    {
        [JsonPropertyName("subject")]
        public required string Subject { get; set; }

        [JsonPropertyName("version")]
        public int Version { get; set; }

        [JsonPropertyName("id")]
        public int Id { get; set; }

        [JsonPropertyName("guid")]
        public Guid Guid { get; set; }

        [JsonPropertyName("schema")]
        public required string Schema { get; set; }

        [JsonPropertyName("schemaType")]
        public string? SchemaType { get; set; }

        [JsonPropertyName("references")]
        public List<ReferenceJson>? References { get; set; }
    }

    /// <summary>An element of <c>GET /schemas/ids/{id}/versions</c>.</summary>
    internal sealed class SubjectVersionResponse
    {
        [JsonPropertyName("subject")]
        public required string Subject { get; set; }

        [JsonPropertyName("version")]
        public int Version { get; set; }
    }

    /// <summary>Confluent Schema Registry's error body; clients read <c>error_code</c> into <c>SchemaRegistryException.ErrorCode</c>.</summary>
    internal sealed class ErrorResponse
    {
        [JsonPropertyName("error_code")]
        public int ErrorCode { get; set; }

        [JsonPropertyName("message")]
        public required string Message { get; set; }
    }
}
