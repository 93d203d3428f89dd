using System.Text;
using System.Text.Json;

namespace CioSegment.DevDoubles.SchemaRegistry;

/// <summary>
/// In-memory store behind the development/test double of Confluent Schema Registry. FOR DEVELOPMENT AND TESTS
/// ONLY: no compatibility checks, no persistence, no authentication. Production uses a real Confluent Schema
/// Registry (docker-compose, Helm).
/// </summary>
/// <remarks>
/// <para>
/// Subjects hold versions (1, 2, …); every distinct schema gets one global id (1, 2, …), shared by all subjects
/// it is registered under, as in Confluent Schema Registry. Registering a schema a subject already holds
/// returns its existing version and id instead of adding a version.
/// </para>
/// <para>
/// "Same schema" means same schema type, same references and same text once insignificant JSON whitespace is
/// removed (AVRO and JSON schemas); there is no Avro canonical-form normalisation. Schema types are not
/// validated beyond that: an AVRO or JSON schema must be well-formed JSON. Nothing is ever deleted.
/// </para>
/// <para>Expose it over HTTP with <see cref="DevSchemaRegistryEndpoints.MapDevSchemaRegistry(Microsoft.AspNetCore.Routing.IEndpointRouteBuilder, DevSchemaRegistry, string)"/>
/// or <see cref="DevSchemaRegistryServer"/>. Instances are thread-safe.</para>
/// </remarks>
public sealed class DevSchemaRegistry
{
    /// <summary>How this registry must be described wherever it is used.</summary>
    public const string Label =
        "development/test double of Confluent Schema Registry (in memory, no compatibility checks, no persistence, no auth): not for production";

    /// <summary>The schema type assumed when none is given, as in Confluent Schema Registry.</summary>
    public const string DefaultSchemaType = "AVRO";

    private static readonly string[] KnownSchemaTypes = ["AVRO", "JSON", "PROTOBUF"];

    private readonly Lock _gate = new();
    private readonly List<DevSchema> _schemasById = [];
    private readonly Dictionary<string, DevSchema> _schemasByContentKey = new(StringComparer.Ordinal);
    private readonly Dictionary<Guid, DevSchema> _schemasByGuid = [];
    private readonly Dictionary<string, List<DevSchema>> _subjects = new(StringComparer.Ordinal);
    private readonly List<string> _unhandledRequests = [];

    /// <summary>
    /// Registers <paramref name="schema"/> under <paramref name="subject"/>. Returns the existing registration when
    /// the subject already holds the same schema; otherwise adds the next version, reusing the schema's global id
    /// if another subject already holds it.
    /// </summary>
    /// <param name="subject">The subject (Confluent's default naming: <c>{topic}-value</c> / <c>{topic}-key</c>).</param>
    /// <param name="schema">The schema text.</param>
    /// <param name="schemaType"><c>AVRO</c> (the default when null or empty), <c>JSON</c> or <c>PROTOBUF</c>.</param>
    /// <param name="references">The schema's references; null or empty when it has none.</param>
    /// <exception cref="ArgumentException">
    /// The subject is blank, the schema is empty or not JSON (AVRO, JSON), the schema type is unknown, or a reference
    /// names a subject version that is not registered.
    /// </exception>
    public DevRegisteredSchema Register(
        string subject,
        string schema,
        string? schemaType = null,
        IReadOnlyList<DevSchemaReference>? references = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(subject);
        var (type, refs, key) = Describe(schema, schemaType, references);

        lock (_gate)
        {
            foreach (var reference in refs)
            {
                if (!_subjects.TryGetValue(reference.Subject, out var referenced) || reference.Version < 1 || reference.Version > referenced.Count)
                {
                    throw new ArgumentException(
                        $"Schema reference '{reference.Name}' points at subject '{reference.Subject}' version {reference.Version}, which is not registered: register it first.",
                        nameof(references));
                }
            }

            if (!_schemasByContentKey.TryGetValue(key, out var stored))
            {
                stored = new DevSchema(_schemasById.Count + 1, Guid.NewGuid(), schema, type, refs);
                _schemasById.Add(stored);
                _schemasByContentKey.Add(key, stored);
                _schemasByGuid.Add(stored.Guid, stored);
            }

            if (!_subjects.TryGetValue(subject, out var versions))
            {
                versions = [];
                _subjects.Add(subject, versions);
            }

            var index = versions.IndexOf(stored);
            if (index < 0)
            {
                versions.Add(stored);
                index = versions.Count - 1;
            }

            return new DevRegisteredSchema(subject, index + 1, stored);
        }
    }

    /// <summary>
    /// Finds the registration of <paramref name="schema"/> under <paramref name="subject"/> (what Confluent's
    /// <c>POST /subjects/{subject}</c> does); null when the subject does not hold it or does not exist.
    /// </summary>
    /// <exception cref="ArgumentException">The subject is blank, the schema is empty or not JSON (AVRO, JSON), or the schema type is unknown.</exception>
    public DevRegisteredSchema? Lookup(
        string subject,
        string schema,
        string? schemaType = null,
        IReadOnlyList<DevSchemaReference>? references = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(subject);
        var (_, _, key) = Describe(schema, schemaType, references);

        lock (_gate)
        {
            if (!_subjects.TryGetValue(subject, out var versions) || !_schemasByContentKey.TryGetValue(key, out var stored))
            {
                return null;
            }

            var index = versions.IndexOf(stored);
            return index < 0 ? null : new DevRegisteredSchema(subject, index + 1, stored);
        }
    }

    /// <summary>The schema with global id <paramref name="id"/>; null when there is none.</summary>
    public DevSchema? GetById(int id)
    {
        lock (_gate)
        {
            return id >= 1 && id <= _schemasById.Count ? _schemasById[id - 1] : null;
        }
    }

    /// <summary>The schema with GUID <paramref name="guid"/>; null when there is none.</summary>
    public DevSchema? GetByGuid(Guid guid)
    {
        lock (_gate)
        {
            return _schemasByGuid.GetValueOrDefault(guid);
        }
    }

    /// <summary>Every subject/version pair that holds the schema with global id <paramref name="id"/>; empty when none.</summary>
    public IReadOnlyList<DevRegisteredSchema> GetRegistrationsById(int id)
    {
        lock (_gate)
        {
            var stored = id >= 1 && id <= _schemasById.Count ? _schemasById[id - 1] : null;
            if (stored is null)
            {
                return [];
            }

            var result = new List<DevRegisteredSchema>();
            foreach (var (subject, versions) in _subjects)
            {
                var index = versions.IndexOf(stored);
                if (index >= 0)
                {
                    result.Add(new DevRegisteredSchema(subject, index + 1, stored));
                }
            }

            result.Sort((a, b) => string.CompareOrdinal(a.Subject, b.Subject));
            return result;
        }
    }

    /// <summary>All subjects, in ordinal order.</summary>
    public IReadOnlyList<string> GetSubjects()
    {
        lock (_gate)
        {
            var subjects = _subjects.Keys.ToList();
            subjects.Sort(StringComparer.Ordinal);
            return subjects;
        }
    }

    /// <summary>The versions of <paramref name="subject"/> (1 … n); null when the subject does not exist.</summary>
    public IReadOnlyList<int>? GetVersions(string subject)
    {
        lock (_gate)
        {
            return _subjects.TryGetValue(subject, out var versions)
                ? Enumerable.Range(1, versions.Count).ToList()
                : null;
        }
    }

    /// <summary>
    /// Version <paramref name="version"/> of <paramref name="subject"/>, or its latest version when
    /// <paramref name="version"/> is -1 (Confluent's alias for <c>latest</c>); null when either does not exist.
    /// </summary>
    public DevRegisteredSchema? GetVersion(string subject, int version)
    {
        lock (_gate)
        {
            if (!_subjects.TryGetValue(subject, out var versions) || versions.Count == 0)
            {
                return null;
            }

            if (version == -1)
            {
                version = versions.Count;
            }

            return version >= 1 && version <= versions.Count
                ? new DevRegisteredSchema(subject, version, versions[version - 1])
                : null;
        }
    }

    /// <summary>The latest version of <paramref name="subject"/>; null when the subject does not exist.</summary>
    public DevRegisteredSchema? GetLatest(string subject) => GetVersion(subject, -1);

    /// <summary>
    /// Requests the HTTP endpoints received but do not implement (<c>METHOD /path?query</c>), oldest first. A client
    /// upgrade that starts calling an endpoint this double lacks shows up here (and in the log) rather than only as
    /// a client-side 404.
    /// </summary>
    public IReadOnlyList<string> UnhandledRequests
    {
        get
        {
            lock (_gate)
            {
                return [.. _unhandledRequests];
            }
        }
    }

    /// <inheritdoc/>
    public override string ToString()
    {
        lock (_gate)
        {
            return $"{Label}; {_subjects.Count} subject(s), {_schemasById.Count} schema(s)";
        }
    }

    internal void RecordUnhandledRequest(string request)
    {
        lock (_gate)
        {
            // Bounded: a misbehaving client polling an unknown endpoint must not grow this without limit.
            if (_unhandledRequests.Count < 1000)
            {
                _unhandledRequests.Add(request);
            }
        }
    }

    private static (string Type, IReadOnlyList<DevSchemaReference> References, string ContentKey) Describe(
        string schema,
        string? schemaType,
        IReadOnlyList<DevSchemaReference>? references)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(schema);

        var type = string.IsNullOrWhiteSpace(schemaType) ? DefaultSchemaType : schemaType.Trim().ToUpperInvariant();
        if (!KnownSchemaTypes.Contains(type))
        {
            throw new ArgumentException(
                $"Unknown schema type '{schemaType}': use one of {string.Join(", ", KnownSchemaTypes)}.", nameof(schemaType));
        }

        IReadOnlyList<DevSchemaReference> refs = references is { Count: > 0 } ? [.. references] : [];
        foreach (var reference in refs)
        {
            ArgumentNullException.ThrowIfNull(reference, nameof(references));
            ArgumentException.ThrowIfNullOrWhiteSpace(reference.Name, nameof(references));
            ArgumentException.ThrowIfNullOrWhiteSpace(reference.Subject, nameof(references));
        }

        var text = type == "PROTOBUF" ? schema : CompactJson(schema);
        var key = new StringBuilder(type).Append('\n');
        foreach (var reference in refs)
        {
            key.Append(reference.Name).Append('\0').Append(reference.Subject).Append('\0').Append(reference.Version).Append('\n');
        }

        key.Append('\n').Append(text);
        return (type, refs, key.ToString());
    }

    private static string CompactJson(string schema)
    {
        try
        {
            using var document = JsonDocument.Parse(schema);
            return JsonSerializer.Serialize(document.RootElement);
        }
        catch (JsonException e)
        {
            throw new ArgumentException($"The schema is not well-formed JSON: {e.Message}", nameof(schema), e);
        }
    }
}
