using CioSegment.Mapping.Settings;
using CioSegment.Processor.Publish;
using CioSegment.Processor.Transform;
using CioSegment.ServiceDefaults;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;

namespace CioSegment.Processor;

public static class ProcessorServiceExtensions
{
    /// <summary>Port of the processor's own HTTP listener (<c>/metrics</c>, <c>/health/live</c>, <c>/health/ready</c>) unless <c>urls</c> is set.</summary>
    public const string DefaultUrls = "http://0.0.0.0:9464";

    /// <summary>Maps <c>/health/live</c> and <c>/health/ready</c> to the checks tagged <c>live</c> and <c>ready</c> by the stages.</summary>
    public static WebApplication MapProcessorHealth(this WebApplication app)
    {
        app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = c => c.Tags.Contains("live") });
        app.MapHealthChecks("/health/ready", new HealthCheckOptions { Predicate = c => c.Tags.Contains("ready") });
        return app;
    }

    /// <summary>Registers the transformer (options validated at start-up, sources, the hosted service) and its health checks (<see cref="TransformerHealthCheck"/>, tagged <c>live</c> and <c>ready</c>).</summary>
    public static IHostApplicationBuilder AddTransformer(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddKafkaClients();
        services.AddOptions<TransformerOptions>().BindConfiguration(TransformerOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<SchemaRegistryOptions>().BindConfiguration(SchemaRegistryOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        builder.AddSources();
        if (builder.Configuration.GetValue(TransformerOptions.SectionName + ":" + nameof(TransformerOptions.Enabled), true))
        {
            services.TryAddSingleton(TimeProvider.System);
            services.TryAddSingleton<TransformerHealth>();
            services.AddHostedService<TransformerService>();
            services.AddHealthChecks()
                .AddTypeActivatedCheck<TransformerHealthCheck>("transformer", failureStatus: null, tags: ["live"], args: [false])
                .AddTypeActivatedCheck<TransformerHealthCheck>("transformer-ready", failureStatus: null, tags: ["ready"], args: [true]);
        }

        return builder;
    }

    /// <summary>Registers the Segment batch publisher and its health checks (<see cref="PublisherHealthCheck"/>, tagged <c>live</c> and <c>ready</c>).</summary>
    public static IHostApplicationBuilder AddPublisher(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddKafkaClients();
        services.AddOptions<PublisherOptions>().BindConfiguration(PublisherOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<SchemaRegistryOptions>().BindConfiguration(SchemaRegistryOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        builder.AddSources();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<ISegmentEndpoints, ConfiguredSegmentEndpoints>();
        services.AddHttpClient(SegmentBatchClient.ClientName, client => client.Timeout = Timeout.InfiniteTimeSpan);
        if (builder.Configuration.GetValue(PublisherOptions.SectionName + ":" + nameof(PublisherOptions.Enabled), true))
        {
            services.TryAddSingleton<PublisherHealth>();
            services.AddHostedService<PublisherService>();
            services.AddHealthChecks()
                .AddTypeActivatedCheck<PublisherHealthCheck>("publisher", failureStatus: null, tags: ["live"], args: [false])
                .AddTypeActivatedCheck<PublisherHealthCheck>("publisher-ready", failureStatus: null, tags: ["ready"], args: [true]);
        }

        return builder;
    }
}
