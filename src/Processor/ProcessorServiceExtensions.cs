using CioSegment.Mapping.Settings;
using CioSegment.Processor.Transform;
using CioSegment.ServiceDefaults;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
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
        services.AddSingleton(sp => SourceCatalog.FromConfiguration(sp.GetRequiredService<IConfiguration>()));
        if (builder.Configuration.GetValue(TransformerOptions.SectionName + ":" + nameof(TransformerOptions.Enabled), true))
        {
            services.AddHostedService<TransformerService>();
        }

        return builder;
    }
}
