namespace CioSegment.DevDoubles.SchemaRegistry;

/// <summary>
/// A reference from one schema to another registered schema, as in Confluent Schema Registry's
/// <c>references</c> array (<c>name</c>, <c>subject</c>, <c>version</c>). Part of the
/// <see cref="DevSchemaRegistry"/> development/test double; references are stored and returned, never resolved.
/// </summary>
/// <param name="Name">The name the referencing schema uses (Avro: the full name of the referenced type).</param>
/// <param name="Subject">The subject the referenced schema is registered under.</param>
/// <param name="Version">The version of the referenced schema in that subject.</param>
public sealed record DevSchemaReference(string Name, string Subject, int Version);
