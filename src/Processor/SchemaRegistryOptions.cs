using Confluent.SchemaRegistry;

namespace CioSegment.Processor;

/// <summary>Schema Registry connection, section <c>CioSegment:SchemaRegistry</c>.</summary>
public sealed class SchemaRegistryOptions
{
    public const string SectionName = "CioSegment:SchemaRegistry";

    [System.ComponentModel.DataAnnotations.Required]
    public string Url { get; set; } = "";

    /// <summary>Optional <c>user:password</c> for HTTP Basic auth. Never logged.</summary>
    public string? BasicAuthUserInfo { get; set; }

    public CachedSchemaRegistryClient CreateClient() => new(new SchemaRegistryConfig
    {
        Url = Url,
        BasicAuthUserInfo = BasicAuthUserInfo,
        BasicAuthCredentialsSource = BasicAuthUserInfo is null ? null : AuthCredentialsSource.UserInfo,
    });
}
