using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace CioSegment.LoadTest;

/// <summary>A loopback stand-in for Segment's /v1/batch that records when each messageId arrived, and how often.</summary>
internal sealed class StandInSegment : IAsyncDisposable
{
    private readonly WebApplication _app;

    private StandInSegment(WebApplication app, string url)
    {
        _app = app;
        Url = url;
    }

    public string Url { get; }

    /// <summary>messageId → (first arrival timestamp, deliveries).</summary>
    public ConcurrentDictionary<string, (long FirstTicks, int Count)> Received { get; } = new(StringComparer.Ordinal);

    public long Batches;

    public long BatchEvents;

    public long OversizeBatches;

    /// <summary>Answer 503 while this returns true (an outage).</summary>
    public Func<bool> Failing { get; set; } = () => false;

    public static async Task<StandInSegment> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        StandInSegment? self = null;
        app.MapPost("/v1/batch", async (HttpContext context) =>
        {
            if (self!.Failing())
            {
                context.Response.StatusCode = 503;
                return;
            }

            using var buffer = new MemoryStream();
            await context.Request.Body.CopyToAsync(buffer);
            var now = Stopwatch.GetTimestamp();
            if (buffer.Length > 500_000)
            {
                Interlocked.Increment(ref self.OversizeBatches);
            }

            using var doc = JsonDocument.Parse(buffer.ToArray());
            var events = 0;
            foreach (var e in doc.RootElement.GetProperty("batch").EnumerateArray())
            {
                events++;
                // Raw text, as Segment's decoder never fails on an escape it cannot map to UTF-16.
                var raw = e.GetProperty("messageId").GetRawText();
                var id = raw.Length >= 2 ? raw[1..^1] : raw;
                self.Received.AddOrUpdate(id, (now, 1), (_, old) => (old.FirstTicks, old.Count + 1));
            }

            Interlocked.Increment(ref self.Batches);
            Interlocked.Add(ref self.BatchEvents, events);
            await context.Response.WriteAsync("{\"success\":true}");
        });
        await app.StartAsync();
        self = new StandInSegment(app, app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        return self;
    }

    public ValueTask DisposeAsync() => _app.DisposeAsync();
}
