namespace CioSegment.DevDoubles.SchemaRegistry;

/// <summary>
/// One distinct schema held by the <see cref="DevSchemaRegistry"/> development/test double, with its global id.
/// A schema registered under several subjects is one <see cref="DevSchema"/> (one id), as in Confluent Schema Registry.
/// </summary>
/// <param name="Id">The global schema id (the one the Confluent wire format puts after the magic byte), from 1.</param>
/// <param name="Guid">A random GUID for the schema (newer registries also address schemas by GUID).</param>
/// <param name="SchemaText">The schema text exactly as first registered.</param>
/// <param name="SchemaType"><c>AVRO</c>, <c>JSON</c> or <c>PROTOBUF</c>.</param>
/// <param name="References">The schema's references, empty when it has none.</param>
public sealed record DevSchema(
    int Id,
    Guid Guid,
    string SchemaText,
    string SchemaType,
    IReadOnlyList<DevSchemaReference> References);
