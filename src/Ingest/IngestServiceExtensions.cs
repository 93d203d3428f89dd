using CioSegment.ServiceDefaults;
using CioSegment.Mapping.Settings;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace CioSegment.Ingest;

public static class IngestServiceExtensions
{
    /// <summary>Registers the webhook receiver: options (validated at start), sources (reloaded while running), the producer, health checks.</summary>
    public static WebApplicationBuilder AddIngest(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<IngestOptions>().BindConfiguration(IngestOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        services.AddKafkaClients();
        builder.AddSources();
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<RawWebhookProducer>();
        services.AddSingleton<WebhookEndpoint>();
        services.AddSingleton<KafkaReadinessCheck>();
        services.AddHealthChecks()
            .AddCheck<ProducerLivenessCheck>("kafka-producer", tags: ["live"])
            .AddCheck<KafkaReadinessCheck>("kafka", tags: ["ready"]);
        services.Configure<KestrelServerOptions>(kestrel =>
        {
            // The endpoint enforces its own, configurable limit and answers 413 itself.
            kestrel.Limits.MaxRequestBodySize = null;
        });
        return builder;
    }

    /// <summary>Maps the webhook route and the health endpoints.</summary>
    public static WebApplication MapIngest(this WebApplication app)
    {
        // Fail at start-up, naming each bad source setting, rather than at the first webhook.
        _ = app.Services.GetRequiredService<SourceCatalog>();

        var endpoint = app.Services.GetRequiredService<WebhookEndpoint>();
        app.MapPost(WebhookEndpoint.Route, (HttpContext context, string sourceId) => endpoint.HandleAsync(context, sourceId));
        app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = c => c.Tags.Contains("live") });
        app.MapHealthChecks("/health/ready", new HealthCheckOptions { Predicate = c => c.Tags.Contains("ready") });
        return app;
    }
}
