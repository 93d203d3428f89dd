using CioSegment.Inspector;
using CioSegment.ServiceDefaults;

// The event inspector as its own service: one replica (the index is a local SQLite file).
var builder = WebApplication.CreateBuilder(args);
builder.AddInspector();
builder.AddTelemetry("cio-inspector");
builder.Services.AddHealthChecks();

var app = builder.Build();
app.MapInspector();
app.MapTelemetry();
app.MapHealthChecks("/health/live");
app.MapGet("/", () => Results.Redirect(InspectorOptions.PathBase + "/"));
await app.RunAsync();
