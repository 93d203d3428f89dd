using CioSegment.Processor;
using CioSegment.Processor.Cli;
using CioSegment.ServiceDefaults;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;

if (ProcessorCommandLine.IsCommand(args))
{
    using var stdout = Console.OpenStandardOutput();
    return ProcessorCommandLine.Run(args, Console.OpenStandardInput, stdout, Console.Out, Console.Error);
}

// The pipeline: the transformer and the Segment publisher, configured by appsettings.json, environment variables
// and --Section:Key=value arguments; /metrics, /health/live and /health/ready on the processor's own port.
var builder = WebApplication.CreateBuilder(args);
if (string.IsNullOrEmpty(builder.Configuration["urls"]))
{
    builder.WebHost.UseUrls(ProcessorServiceExtensions.DefaultUrls);
}

builder.AddTransformer();
builder.AddPublisher();
builder.AddTelemetry("cio-processor");
using var app = builder.Build();
app.MapTelemetry();
app.MapProcessorHealth();
app.Run();
return Environment.ExitCode;
