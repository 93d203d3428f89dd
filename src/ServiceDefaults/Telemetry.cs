using System.Reflection;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace CioSegment.ServiceDefaults;

/// <summary>
/// OpenTelemetry for every service: traces and metrics from the pipeline's own sources (<c>CioSegment.*</c>),
/// ASP.NET Core, HttpClient and the runtime, under <c>service.name</c> and <c>service.version</c>; exported over
/// OTLP with the logs when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set, and always scrapeable by Prometheus at
/// <c>/metrics</c>.
/// </summary>
public static class Telemetry
{
    public static IHostApplicationBuilder AddTelemetry(this IHostApplicationBuilder builder, string serviceName)
    {
        var otel = builder.Services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService(serviceName, serviceVersion: ServiceVersion(Assembly.GetEntryAssembly())))
            .WithTracing(t => t
                .AddSource("CioSegment.*")
                .AddAspNetCoreInstrumentation(o => o.Filter = c => !c.Request.Path.StartsWithSegments("/health") && !c.Request.Path.StartsWithSegments("/metrics"))
                .AddHttpClientInstrumentation())
            .WithMetrics(m => m
                .AddMeter("CioSegment.*")
                .AddAspNetCoreInstrumentation()
                .AddHttpClientInstrumentation()
                .AddRuntimeInstrumentation()
                .AddPrometheusExporter());
        if (!string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
        {
            // Logs too, with the trace and span of the request or record they were written for.
            otel.WithLogging();
            otel.UseOtlpExporter();
        }

        return builder;
    }

    /// <summary>
    /// An assembly's informational version without SourceLink's <c>+commit</c>, else its assembly version: the
    /// <c>service.version</c> of telemetry (entry assembly) and the version in the publisher's User-Agent.
    /// </summary>
    public static string ServiceVersion(Assembly? assembly) =>
        assembly?.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion is { Length: > 0 } informational
            ? informational.Split('+')[0]
            : assembly?.GetName().Version?.ToString() ?? "unknown";

    /// <summary>Maps the Prometheus scrape endpoint <c>/metrics</c>.</summary>
    public static WebApplication MapTelemetry(this WebApplication app)
    {
        app.MapPrometheusScrapingEndpoint("/metrics");
        return app;
    }
}
