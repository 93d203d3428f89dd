using System.Net;
using System.Reflection;
using CioSegment.Contracts;
using Confluent.SchemaRegistry;

namespace CioSegment.KafkaDouble;

/// <summary>
/// A Schema Registry that knows one schema, the sink record's, under <see cref="SinkRecords.SchemaId"/>, and
/// can be down: then a lookup fails as <c>CachedSchemaRegistryClient</c>'s does when the registry does not
/// answer (a faulted task with an <see cref="HttpRequestException"/>). Modelled: the lookup by id, and the
/// registration of that same schema under any subject (the publisher parks sink records in the held topic),
/// which answers its id; anything else the code under test calls is refused loudly.
/// </summary>
internal sealed class RegistryDouble
{
    public RegistryDouble()
    {
        var client = DispatchProxy.Create<ISchemaRegistryClient, Proxy>();
        ((Proxy)(object)client).Registry = this;
        Client = client;
    }

    public ISchemaRegistryClient Client { get; }

    /// <summary>Whether a lookup fails now.</summary>
    public Func<bool> Down { get; set; } = () => false;

    public int Lookups { get; private set; }

    public int Failures { get; private set; }

    private Task<Schema> GetSchema(int id)
    {
        Lookups++;
        if (Down())
        {
            Failures++;
            return Task.FromException<Schema>(new HttpRequestException("Connection refused (registry:8081)", null, HttpStatusCode.ServiceUnavailable));
        }

        return id == SinkRecords.SchemaId
            ? Task.FromResult(new Schema(SegmentTrackRecord.AvroSchema.ToString(), SchemaType.Avro))
            : Task.FromException<Schema>(new SchemaRegistryException("Schema not found", HttpStatusCode.NotFound, 40403));
    }

    private Task<int> Register(Schema schema)
    {
        if (Down())
        {
            Failures++;
            return Task.FromException<int>(new HttpRequestException("Connection refused (registry:8081)", null, HttpStatusCode.ServiceUnavailable));
        }

        return schema.SchemaString == SegmentTrackRecord.AvroSchema.ToString()
            ? Task.FromResult(SinkRecords.SchemaId)
            : Task.FromException<int>(new SchemaRegistryException("Schema being registered is incompatible", HttpStatusCode.Conflict, 409));
    }

    /// <summary>The registry client interface, answered by <see cref="GetSchema"/> and <see cref="Register"/>.</summary>
    public class Proxy : DispatchProxy
    {
        internal RegistryDouble Registry { get; set; } = null!;

        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args) => targetMethod?.Name switch
        {
            nameof(ISchemaRegistryClient.GetSchemaAsync) when args is [int id, ..] => Registry.GetSchema(id),
            nameof(ISchemaRegistryClient.RegisterSchemaAsync) when args is [string, Schema schema, ..] => Registry.Register(schema),
            nameof(IDisposable.Dispose) => null,
            _ => throw new NotSupportedException($"The registry double does not model {targetMethod?.Name}."),
        };
    }
}
