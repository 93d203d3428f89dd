using System.Buffers.Binary;
using System.Net;
using System.Text;
using CioSegment.Contracts;
using CioSegment.DevDoubles.SchemaRegistry;
using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Confluent.SchemaRegistry.Serdes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace CioSegment.IntegrationTests.SchemaRegistry;

/// <summary>
/// The development/test double of Confluent Schema Registry (<see cref="DevSchemaRegistryServer"/>) driven by the
/// REAL Confluent clients over HTTP: <see cref="CachedSchemaRegistryClient"/>, <see cref="AvroSerializer{T}"/>,
/// <see cref="AvroDeserializer{T}"/>. Each test runs its own server on a free loopback port.
/// </summary>
public sealed class DevSchemaRegistryTests
{
    private const string SinkSubject = Topics.SegmentTrack + "-value";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    // A fresh client per use: CachedSchemaRegistryClient caches ids and schemas, and a second instance has to ask
    // the server, which is what happens in another process.
    private static CachedSchemaRegistryClient NewClient(DevSchemaRegistryServer server) =>
        new(new SchemaRegistryConfig { Url = server.Url.ToString() });

    private static SegmentTrackRecord SampleRecord() => new()
    {
        SourceId = "workspace-1",
        MessageId = "cio-3f2a9c",
        PersonKey = "caf\u00e9-person",
        Event = "Email Opened",
        // timestamp-millis: whole milliseconds survive the round trip.
        ReceivedAt = new DateTime(2024, 5, 17, 8, 30, 12, 345, DateTimeKind.Utc),
        TrackJson = Encoding.UTF8.GetBytes("""{"type":"track","event":"Email Opened","messageId":"cio-3f2a9c"}"""),
    };

    private static string OtherAvroSchema(string name) =>
        $$"""{"type":"record","name":"{{name}}","namespace":"CioSegment.Tests","fields":[{"name":"n","type":"int"}]}""";

    [Fact]
    public async Task Record_serialized_by_AvroSerializer_is_deserialized_by_a_separate_client_with_every_field_equal()
    {
        await using var server = await DevSchemaRegistryServer.StartAsync();
        var context = new SerializationContext(MessageComponentType.Value, Topics.SegmentTrack);
        var original = SampleRecord();

        byte[] bytes;
        using (var producerClient = NewClient(server))
        {
            bytes = await new AvroSerializer<SegmentTrackRecord>(producerClient).SerializeAsync(original, context);
        }

        // Confluent wire format: magic byte 0, then the big-endian schema id the serializer auto-registered.
        var registered = server.Registry.GetLatest(SinkSubject);
        Assert.NotNull(registered);
        Assert.Equal(0, bytes[0]);
        Assert.Equal(registered.Id, BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(1, 4)));

        SegmentTrackRecord copy;
        using (var consumerClient = NewClient(server))
        {
            copy = await new AvroDeserializer<SegmentTrackRecord>(consumerClient).DeserializeAsync(bytes, isNull: false, context);
        }

        Assert.Equal(original.SourceId, copy.SourceId);
        Assert.Equal(original.MessageId, copy.MessageId);
        Assert.Equal(original.PersonKey, copy.PersonKey);
        Assert.Equal(original.Event, copy.Event);
        Assert.Equal(original.ReceivedAt, copy.ReceivedAt.ToUniversalTime());
        Assert.Equal(original.TrackJson, copy.TrackJson);
        Assert.Empty(server.Registry.UnhandledRequests);
        TestContext.Current.TestOutputHelper?.WriteLine($"{server}; {registered}");
    }

    [Fact]
    public async Task Registering_the_same_schema_twice_gives_the_same_id_and_version()
    {
        await using var server = await DevSchemaRegistryServer.StartAsync();
        var schema = new Schema(SegmentTrackRecord.AvroSchema.ToString(), SchemaType.Avro);

        // Two clients, so the second registration is not answered from the first client's cache.
        using var first = NewClient(server);
        using var second = NewClient(server);
        var id1 = await first.RegisterSchemaAsync(SinkSubject, schema);
        var id2 = await second.RegisterSchemaAsync(SinkSubject, schema);

        Assert.Equal(id1, id2);
        Assert.Equal(new[] { 1 }, await second.GetSubjectVersionsAsync(SinkSubject));
        var latest = await second.GetLatestSchemaAsync(SinkSubject);
        Assert.Equal(id1, latest.Id);
        Assert.Equal(1, latest.Version);
        Assert.Equal(SinkSubject, latest.Subject);
        Assert.Equal(SchemaType.Avro, latest.SchemaType);

        // The serializer's auto-registration (a third client) lands on the same id too.
        using var third = NewClient(server);
        var bytes = await new AvroSerializer<SegmentTrackRecord>(third)
            .SerializeAsync(SampleRecord(), new SerializationContext(MessageComponentType.Value, Topics.SegmentTrack));
        Assert.Equal(id1, BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(1, 4)));
        using var fourth = NewClient(server);
        Assert.Equal(new[] { 1 }, await fourth.GetSubjectVersionsAsync(SinkSubject));
    }

    [Fact]
    public async Task Unknown_id_makes_the_client_throw_SchemaRegistryException_with_40403()
    {
        await using var server = await DevSchemaRegistryServer.StartAsync();
        using var client = NewClient(server);

        var ex = await Assert.ThrowsAsync<SchemaRegistryException>(() => client.GetSchemaAsync(4242));

        Assert.Equal(40403, ex.ErrorCode);
        Assert.Equal(HttpStatusCode.NotFound, ex.Status);

        // The deserializer meets the same answer for a record whose id the registry never issued.
        var bytes = new byte[] { 0, 0, 0, 0x10, 0x92, 0 };
        var deserializeError = await Assert.ThrowsAnyAsync<Exception>(() =>
            new AvroDeserializer<SegmentTrackRecord>(client).DeserializeAsync(
                bytes, isNull: false, new SerializationContext(MessageComponentType.Value, Topics.SegmentTrack)));
        var registryError = deserializeError as SchemaRegistryException
            ?? Assert.IsType<SchemaRegistryException>(deserializeError.InnerException, exactMatch: false);
        Assert.Equal(40403, registryError.ErrorCode);
    }

    [Fact]
    public async Task Unknown_subject_and_version_answer_with_Confluent_error_codes()
    {
        await using var server = await DevSchemaRegistryServer.StartAsync();
        using var client = NewClient(server);

        var noSubject = await Assert.ThrowsAsync<SchemaRegistryException>(() => client.GetLatestSchemaAsync("no-such-subject"));
        Assert.Equal(40401, noSubject.ErrorCode);

        await client.RegisterSchemaAsync("s-value", new Schema(OtherAvroSchema("S"), SchemaType.Avro));
        var noVersion = await Assert.ThrowsAsync<SchemaRegistryException>(() => client.GetRegisteredSchemaAsync("s-value", 7));
        Assert.Equal(40402, noVersion.ErrorCode);
    }

    [Fact]
    public async Task Different_schemas_under_two_subjects_get_distinct_global_ids()
    {
        await using var server = await DevSchemaRegistryServer.StartAsync();
        using var client = NewClient(server);

        var idA = await client.RegisterSchemaAsync("topic-a-value", new Schema(OtherAvroSchema("A"), SchemaType.Avro));
        var idB = await client.RegisterSchemaAsync("topic-b-value", new Schema(OtherAvroSchema("B"), SchemaType.Avro));

        Assert.NotEqual(idA, idB);
        // Ids are global, versions per subject.
        Assert.Equal(1, (await client.GetLatestSchemaAsync("topic-a-value")).Version);
        Assert.Equal(1, (await client.GetLatestSchemaAsync("topic-b-value")).Version);
        using var reader = NewClient(server);
        Assert.Contains("\"A\"", (await reader.GetSchemaAsync(idA)).SchemaString);
        Assert.Contains("\"B\"", (await reader.GetSchemaAsync(idB)).SchemaString);
        Assert.Equal(new[] { "topic-a-value", "topic-b-value" }, (await reader.GetAllSubjectsAsync()).Order());

        // As in Confluent Schema Registry, one schema text is one id, whichever subject it is registered under.
        var idAUnderC = await reader.RegisterSchemaAsync("topic-c-value", new Schema(OtherAvroSchema("A"), SchemaType.Avro));
        Assert.Equal(idA, idAUnderC);
    }

    [Fact]
    public async Task Errors_use_Confluent_json_body_and_media_type()
    {
        await using var server = await DevSchemaRegistryServer.StartAsync();
        using var http = new HttpClient();

        using var response = await http.GetAsync(new Uri(server.Url, server.Url.AbsolutePath + "/schemas/ids/99"), Ct);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("application/vnd.schemaregistry.v1+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("""{"error_code":40403,"message":"Schema not found"}""", await response.Content.ReadAsStringAsync(Ct));
    }

    [Fact]
    public async Task Mounted_on_an_existing_app_under_a_custom_prefix_it_uses_the_registry_from_DI()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Services.AddSingleton<DevSchemaRegistry>();
        await using var app = builder.Build();
        app.MapDevSchemaRegistry("/sr");
        await app.StartAsync(Ct);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        using var client = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = address + "/sr" });

        var bytes = await new AvroSerializer<SegmentTrackRecord>(client)
            .SerializeAsync(SampleRecord(), new SerializationContext(MessageComponentType.Value, Topics.SegmentTrack));

        var registry = app.Services.GetRequiredService<DevSchemaRegistry>();
        Assert.Equal(registry.GetLatest(SinkSubject)?.Id, BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(1, 4)));
        Assert.Empty(registry.UnhandledRequests);
        await app.StopAsync(Ct);
    }

    [Fact]
    public void Store_ignores_JSON_whitespace_and_requires_references_to_registered_versions()
    {
        var registry = new DevSchemaRegistry();
        var compact = registry.Register("w-value", OtherAvroSchema("W"));
        var spaced = registry.Register("w-value", OtherAvroSchema("W").Replace(",", ",\n  ", StringComparison.Ordinal));

        Assert.Equal(compact, spaced);
        Assert.Equal(1, spaced.Version);
        Assert.Equal("AVRO", spaced.Schema.SchemaType);
        Assert.Throws<ArgumentException>(() => registry.Register("x-value", "{not json"));
        Assert.Throws<ArgumentException>(() => registry.Register("x-value", OtherAvroSchema("X"), "XML"));
        Assert.Throws<ArgumentException>(() => registry.Register(
            "x-value", OtherAvroSchema("X"), references: [new DevSchemaReference("CioSegment.Tests.Y", "y-value", 1)]));

        var withReference = registry.Register(
            "x-value", OtherAvroSchema("X"), references: [new DevSchemaReference("CioSegment.Tests.W", "w-value", 1)]);
        Assert.NotEqual(compact.Id, withReference.Id);
        Assert.Null(registry.Lookup("x-value", OtherAvroSchema("X")));
        Assert.Equal(withReference, registry.Lookup("x-value", OtherAvroSchema("X"), references: [new DevSchemaReference("CioSegment.Tests.W", "w-value", 1)]));
    }

    [Fact]
    public async Task Start_refuses_non_loopback_addresses_and_the_server_says_what_it_is()
    {
        await Assert.ThrowsAsync<ArgumentException>(() => DevSchemaRegistryServer.StartAsync("http://0.0.0.0:0"));
        await Assert.ThrowsAsync<ArgumentException>(() => DevSchemaRegistryServer.StartAsync("https://127.0.0.1:0"));

        await using var server = await DevSchemaRegistryServer.StartAsync("http://localhost:0");

        Assert.Matches(@"^http://127\.0\.0\.1:\d+/dev/schema-registry$", server.Url.ToString());
        Assert.Contains("double of Confluent Schema Registry", server.ToString());
        Assert.Contains("not for production", server.ToString());
    }
}
