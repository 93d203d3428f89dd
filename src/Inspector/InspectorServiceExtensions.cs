using System.Diagnostics.Metrics;
using CioSegment.Contracts;
using CioSegment.Inspector.Index;
using CioSegment.Inspector.Web;
using CioSegment.Processor;
using CioSegment.ServiceDefaults;
using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Microsoft.Extensions.Options;

namespace CioSegment.Inspector;

/// <summary>Hosting of the event inspector: as its own service (Program) or inside the DevHost.</summary>
public static class InspectorServiceExtensions
{
    public const string MeterName = "CioSegment.Inspector";

    /// <summary>
    /// Registers the index, the indexer and the pages' services; checks access first: the inspector refuses to
    /// start on a non-loopback address without OpenID Connect or a bearer token.
    /// </summary>
    public static WebApplicationBuilder AddInspector(this WebApplicationBuilder builder)
    {
        var section = builder.Configuration.GetSection(InspectorOptions.SectionName);
        var options = section.Get<InspectorOptions>() ?? new InspectorOptions();
        InspectorAccess.EnsureProtected(options, builder.Configuration);
        builder.Services.AddOptions<InspectorOptions>().Bind(section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddOptions<SchemaRegistryOptions>().BindConfiguration(SchemaRegistryOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddKafkaClients();
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton(sp =>
        {
            var o = sp.GetRequiredService<IOptions<InspectorOptions>>().Value;
            return new EventIndex(o.DatabasePath, o.Retention, o.MaxWebhooks, sp.GetRequiredService<TimeProvider>(), o.CacheMegabytes, o.Buckets);
        });
        builder.Services.AddSingleton<LiveFeed>();
        builder.Services.AddSingleton<ISchemaRegistryClient>(sp => sp.GetRequiredService<IOptions<SchemaRegistryOptions>>().Value.CreateClient());
        builder.Services.AddSingleton<IDeserializer<SegmentTrackRecordView>>(sp => new SegmentTrackRecordViewDeserializer(sp.GetRequiredService<ISchemaRegistryClient>()));
        // The sink records a publish-stage replay writes.
        builder.Services.AddSingleton<ISerializer<SegmentTrackRecord>>(sp => new SegmentTrackRecordSerializer(sp.GetRequiredService<ISchemaRegistryClient>()));
        builder.Services.AddSingleton(sp => new RecordInterpreter(sp.GetRequiredService<IDeserializer<SegmentTrackRecordView>>()));
        builder.Services.AddSingleton<KafkaBodies>();
        builder.Services.AddSingleton<BodyReader>();
        builder.Services.AddSingleton(sp => new Indexer(
            sp.GetRequiredService<EventIndex>(),
            sp.GetRequiredService<LiveFeed>(),
            sp.GetRequiredService<KafkaClientFactory>(),
            sp.GetRequiredService<RecordInterpreter>(),
            sp.GetRequiredService<IOptions<InspectorOptions>>(),
            sp.GetRequiredService<IMeterFactory>().Create(MeterName),
            sp.GetRequiredService<ILogger<Indexer>>(),
            sp.GetRequiredService<TimeProvider>()));
        builder.Services.AddHostedService(sp => sp.GetRequiredService<Indexer>());
        InspectorAccess.Add(builder.Services, options);
        return builder;
    }

    /// <summary>Maps the pages and the API under <see cref="InspectorOptions.PathBase"/>.</summary>
    public static WebApplication MapInspector(this WebApplication app)
    {
        var options = app.Services.GetRequiredService<IOptions<InspectorOptions>>().Value;
        if (options.OidcConfigured || options.BearerConfigured)
        {
            app.UseAuthentication();
            app.UseAuthorization();
        }

        InspectorEndpoints.Map(app, options);
        return app;
    }
}
