namespace CioSegment.DevDoubles.SchemaRegistry;

/// <summary>
/// A schema as registered under one subject in the <see cref="DevSchemaRegistry"/> development/test double:
/// subject, version within that subject, and the (global) schema.
/// </summary>
/// <param name="Subject">The subject, e.g. <c>cio.segment.track-value</c>.</param>
/// <param name="Version">The version within the subject, from 1.</param>
/// <param name="Schema">The schema, with its global id.</param>
public sealed record DevRegisteredSchema(string Subject, int Version, DevSchema Schema)
{
    /// <summary>The global schema id (same as <c>Schema.Id</c>).</summary>
    public int Id => Schema.Id;
}
