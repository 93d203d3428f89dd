using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace CioSegment.IntegrationTests.Publish;

/// <summary>A real HTTP server on loopback standing in for Segment's /v1/batch, with programmable answers.</summary>
internal sealed class FakeSegment : IAsyncDisposable
{
    private readonly WebApplication _app;

    private FakeSegment(WebApplication app, Uri url)
    {
        _app = app;
        Url = url;
    }

    public Uri Url { get; }

    /// <summary>Every request, in arrival order.</summary>
    public ConcurrentQueue<Request> Requests { get; } = new();

    /// <summary>Decides the answer; default 200.</summary>
    public Func<Request, Task<(int Status, TimeSpan? RetryAfter)>> Answer { get; set; } = _ => Task.FromResult((200, (TimeSpan?)null));

    /// <summary>Events of the batches answered 2xx.</summary>
    public IEnumerable<JsonObject> Delivered => Requests.Where(r => r.Status is >= 200 and < 300).SelectMany(r => r.Events);

    public static async Task<FakeSegment> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        FakeSegment? self = null;
        app.MapPost("/v1/batch", async (HttpContext context) =>
        {
            using var reader = new StreamReader(context.Request.Body);
            var text = await reader.ReadToEndAsync();
            var body = JsonNode.Parse(text)!.AsObject();
            var headers = context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
            var request = new Request(DateTimeOffset.UtcNow, context.Request.Method, context.Request.Path + context.Request.QueryString, headers, text.Length, body, body["batch"]!.AsArray().Select(e => e!.AsObject()).ToList());
            var (status, retryAfter) = await self!.Answer(request);
            request.Status = status;
            self.Requests.Enqueue(request);
            if (retryAfter is { } after)
            {
                context.Response.Headers.RetryAfter = ((int)after.TotalSeconds).ToString(System.Globalization.CultureInfo.InvariantCulture);
            }

            context.Response.StatusCode = status;
            await context.Response.WriteAsync(status == 200 ? "{\"success\":true}" : "{\"error\":\"stand-in says " + status + "\"}");
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        self = new FakeSegment(app, new Uri(address));
        return self;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    internal sealed class Request(DateTimeOffset at, string method, string path, IReadOnlyDictionary<string, string> headers, int bytes, JsonObject body, List<JsonObject> events)
    {
        public DateTimeOffset At { get; } = at;

        public string Method { get; } = method;

        /// <summary>Path and query string.</summary>
        public string Path { get; } = path;

        /// <summary>Every request header, names case-insensitive, repeated values comma-joined.</summary>
        public IReadOnlyDictionary<string, string> Headers { get; } = headers;

        public string Authorization => Headers.GetValueOrDefault("Authorization", "");

        public int Bytes { get; } = bytes;

        public JsonObject Body { get; } = body;

        public List<JsonObject> Events { get; } = events;

        public int Status { get; set; }
    }
}
