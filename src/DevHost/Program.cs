using CioSegment.ServiceDefaults;
using CioSegment.Contracts;
using CioSegment.DevDoubles.Kafka;
using CioSegment.DevDoubles.SchemaRegistry;
using CioSegment.DevDoubles.Segment;
using CioSegment.Processor;
using CioSegment.Processor.Transform;
using CioSegment.DevHost;
using CioSegment.Ingest;
using CioSegment.Inspector;
using CioSegment.Mapping.Settings;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration.Memory;
using Microsoft.Extensions.Options;

// The whole pipeline in one process on the embedded development broker. Development only: production
// runs the services separately against Kafka (docker-compose, Helm).
// `-- broker` runs only the broker and the schema registry double, for running the services as separate processes.
if (args.Length > 0 && args[0] == "broker")
{
    return await BrokerMode.RunAsync(args[1..]);
}

var builder = WebApplication.CreateBuilder(args);

// Defaults sit below appsettings, environment variables and --key=value arguments, which all override them.
builder.Configuration.Sources.Insert(0, new MemoryConfigurationSource
{
    InitialData = new Dictionary<string, string?>
    {
        ["urls"] = "http://127.0.0.1:8080",
        ["CioSegment:Sources:demo:WebhookSigningKey"] = "demo-signing-key",
        ["CioSegment:Sources:demo:WriteKey"] = "demo-write-key",
        ["Logging:LogLevel:Microsoft.AspNetCore"] = "Warning",

        // The embedded broker holds every fetch for fetch.wait.max.ms (default 500 ms) instead of answering
        // when data arrives, as Kafka does; measured: end-to-end p50 632 ms → 41 ms at 300 events/s.
        ["CioSegment:Kafka:Consumer:fetch.wait.max.ms"] = "50",
    },
});

var devOptions = builder.Configuration.GetSection(DevHostOptions.SectionName).Get<DevHostOptions>() ?? new DevHostOptions();
using var broker = EmbeddedKafkaBroker.Start();
broker.CreatePipelineTopics(devOptions.Partitions);

// A Schema-Registry-compatible double on its own loopback port, so other processes can share it.
await using var registry = await DevSchemaRegistryServer.StartAsync();

// The broker and the registry exist only in this process: their addresses always win. The embedded
// broker has no faithful transactions, so the transformer runs at-least-once here.
builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
{
    [$"{KafkaOptions.SectionName}:{nameof(KafkaOptions.BootstrapServers)}"] = broker.BootstrapServers,
    [$"{SchemaRegistryOptions.SectionName}:{nameof(SchemaRegistryOptions.Url)}"] = registry.Url.ToString(),
    [$"{TransformerOptions.SectionName}:{nameof(TransformerOptions.ProcessingGuarantee)}"] = nameof(ProcessingGuarantee.AtLeastOnce),
    [$"{TransformerOptions.SectionName}:{nameof(TransformerOptions.TransactionalId)}"] = "cio-devhost-transformer",

    // The event inspector, without sign-in: it refuses to start if the DevHost listens beyond loopback. Its
    // index is of this run's broker only, so it starts empty every time.
    [$"{InspectorOptions.SectionName}:{nameof(InspectorOptions.AllowAnonymousOnLoopback)}"] = "true",
    [$"{InspectorOptions.SectionName}:{nameof(InspectorOptions.DatabasePath)}"] = InspectorIndexFile(devOptions),
});

builder.AddIngest();
builder.AddTransformer();
builder.Services.AddSingleton<CioSegment.Processor.Publish.ISegmentEndpoints, LocalCaptureEndpoints>();
builder.AddPublisher();
builder.AddInspector();
builder.AddTelemetry("cio-devhost");
builder.Services.Configure<DevHostOptions>(builder.Configuration.GetSection(DevHostOptions.SectionName));
builder.Services.AddSingleton(sp => new SegmentStandIn(
    new SegmentStandInOptions { CaptureFile = Path.Combine(devOptions.CaptureDirectory, "segment-batches.jsonl") },
    sp.GetRequiredService<ILogger<SegmentStandIn>>()));
if (devOptions.TailTopics)
{
    builder.Services.AddHostedService<PipelineTail>();
}

var app = builder.Build();
app.MapIngest();
app.MapTelemetry();
app.MapInspector();
var capture = app.Services.GetRequiredService<SegmentStandIn>();
capture.Map(app, LocalCaptureEndpoints.BasePath);

app.Lifetime.ApplicationStarted.Register(() =>
{
    var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault() ?? "http://127.0.0.1:8080";
    var sources = app.Services.GetRequiredService<SourceCatalog>();
    var log = app.Logger;
    log.LogWarning("DevHost is running the pipeline on the {Label}.", EmbeddedKafkaBroker.Label);
    log.LogInformation("Kafka bootstrap servers: {Bootstrap} (topics {Topics} with {Partitions} partitions)", broker.BootstrapServers, Topics.RawWebhooks, devOptions.Partitions);
    log.LogInformation("Ingest: {Address}{Route}", address, WebhookEndpoint.Route);
    log.LogInformation("Transformer: {Raw} -> {Sink} (dead letters: {Dlq}), at-least-once because the embedded broker has no faithful transactions; schema registry double at {Registry}", Topics.RawWebhooks, Topics.SegmentTrack, Topics.WebhooksDeadLetter, registry.Url);
    log.LogInformation("Publisher: {Sink} -> Segment batches per source (dead letters: {Dlq})", Topics.SegmentTrack, Topics.SegmentDeadLetter);
    log.LogInformation("Inspector: {Address}{Path}/ (what became of every webhook; no sign-in on loopback)", address, InspectorOptions.PathBase);
    log.LogInformation(
        "Segment stand-in: {Address}{Path}/v1/batch -> {File} (sources without SegmentEndpoint deliver here unless {Section}:SendToSegment=true)",
        address, LocalCaptureEndpoints.BasePath, capture.CaptureFile, DevHostOptions.SectionName);
    if (sources.TryGet("demo", out var demo))
    {
        var curl = SampleRequest.Curl($"{address}/webhooks/customerio/demo", demo.WebhookSigningKey!.RevealUtf8(), DateTimeOffset.UtcNow);
        Console.WriteLine();
        Console.WriteLine("Send a signed sample webhook to the demo source:");
        Console.WriteLine(curl);
        Console.WriteLine();
    }
});

await app.RunAsync();
return 0;

static string InspectorIndexFile(DevHostOptions options)
{
    var path = Path.GetFullPath(Path.Combine(options.CaptureDirectory, "inspector.db"));
    Directory.CreateDirectory(Path.GetDirectoryName(path)!);
    CioSegment.Inspector.Index.EventIndex.DeleteFiles(path);

    return path;
}
