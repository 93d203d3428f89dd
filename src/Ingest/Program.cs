using CioSegment.ServiceDefaults;
using CioSegment.Ingest;

var builder = WebApplication.CreateBuilder(args);
builder.AddIngest();
builder.AddTelemetry("cio-ingest");

var app = builder.Build();
app.MapIngest();
app.MapTelemetry();
app.Run();
