using CioSegment.Mapping.Settings;
using CioSegment.Processor.Publish;
using CioSegment.Processor.Transform;
using CioSegment.ServiceDefaults;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;

namespace CioSegment.Processor;

public static class ProcessorServiceExtensions
{
    /// <summary>Registers the transformer (options validated at start-up, sources, the hosted service).</summary>
    public static IHostApplicationBuilder AddTransformer(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<KafkaOptions>().BindConfiguration(KafkaOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<TransformerOptions>().BindConfiguration(TransformerOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<SchemaRegistryOptions>().BindConfiguration(SchemaRegistryOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        services.TryAddSingleton(sp => SourceCatalog.FromConfiguration(sp.GetRequiredService<IConfiguration>()));
        if (builder.Configuration.GetValue(TransformerOptions.SectionName + ":" + nameof(TransformerOptions.Enabled), true))
        {
            services.AddHostedService<TransformerService>();
        }

        return builder;
    }

    /// <summary>Registers the Segment batch publisher and its health check (<see cref="PublisherHealthCheck"/>, tagged <c>live</c>).</summary>
    public static IHostApplicationBuilder AddPublisher(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<KafkaOptions>().BindConfiguration(KafkaOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<PublisherOptions>().BindConfiguration(PublisherOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<SchemaRegistryOptions>().BindConfiguration(SchemaRegistryOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        services.TryAddSingleton(sp => SourceCatalog.FromConfiguration(sp.GetRequiredService<IConfiguration>()));
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<ISegmentEndpoints, ConfiguredSegmentEndpoints>();
        services.AddHttpClient(SegmentBatchClient.ClientName, client => client.Timeout = Timeout.InfiniteTimeSpan);
        if (builder.Configuration.GetValue(PublisherOptions.SectionName + ":" + nameof(PublisherOptions.Enabled), true))
        {
            services.TryAddSingleton<PublisherHealth>();
            services.AddHostedService<PublisherService>();
            services.AddHealthChecks().AddCheck<PublisherHealthCheck>("publisher", tags: ["live"]);
        }

        return builder;
    }
}
