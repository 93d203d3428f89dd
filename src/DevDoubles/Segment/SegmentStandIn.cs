using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;

namespace CioSegment.DevDoubles.Segment;

/// <summary>What the Segment stand-in keeps and how it behaves.</summary>
public sealed class SegmentStandInOptions
{
    /// <summary>Keep every request with its body in <see cref="SegmentStandIn.Requests"/> (tests); off for load runs.</summary>
    public bool KeepRequests { get; init; }

    /// <summary>Append each stored batch, one JSON line per request, to this file.</summary>
    public string? CaptureFile { get; init; }

    /// <summary>A simulated round trip: each request waits this long before it is answered.</summary>
    public TimeSpan Latency { get; init; }
}

/// <summary>
/// A stand-in for Segment's <c>/v1/batch</c> (development, tests, load and fault runs, benchmarks; never
/// production). It refuses what Segment refuses (<see cref="SegmentBatchRules"/>), answers the rest as
/// <see cref="Answer"/> decides (200 by default), and records what it stored: per messageId when it was
/// first stored and how often, per batch its size, and, when asked, every request. It runs on its own
/// loopback port (<see cref="StartAsync"/>) or inside a host (<see cref="Map"/>, as the DevHost does).
/// </summary>
public sealed class SegmentStandIn : IAsyncDisposable
{
    private readonly SegmentStandInOptions _options;
    private readonly ILogger? _logger;
    private readonly Lock _captureLock = new();
    private WebApplication? _app;
    private long _batches;
    private long _events;
    private long _refused;

    /// <summary>A stand-in to serve inside a host (<see cref="Map"/>); <paramref name="logger"/> logs each captured batch.</summary>
    public SegmentStandIn(SegmentStandInOptions? options = null, ILogger? logger = null)
    {
        _options = options ?? new SegmentStandInOptions();
        _logger = logger;
        CaptureFile = _options.CaptureFile is { } file ? Path.GetFullPath(file) : null;
    }

    /// <summary>The base URL when started with <see cref="StartAsync"/> (the value for a source's <c>SegmentEndpoint</c>).</summary>
    public Uri Url { get; private set; } = new("http://127.0.0.1/");

    /// <summary>Where stored batches are appended, when configured.</summary>
    public string? CaptureFile { get; }

    /// <summary>Decides the answer to a request Segment would accept; 200 by default.</summary>
    public Func<SegmentRequest, ValueTask<SegmentAnswer>> Answer { get; set; } = static _ => ValueTask.FromResult(SegmentAnswer.Ok);

    /// <summary>Every request in arrival order, when <see cref="SegmentStandInOptions.KeepRequests"/> is set.</summary>
    public ConcurrentQueue<SegmentRequest> Requests { get; } = new();

    /// <summary>messageId (as sent) → when it was first stored (<see cref="Stopwatch.GetTimestamp"/>) and how many times.</summary>
    public ConcurrentDictionary<string, (long FirstTimestamp, int Count)> Stored { get; } = new(StringComparer.Ordinal);

    /// <summary>Size of each stored batch, in arrival order.</summary>
    public ConcurrentQueue<(int Events, int Bytes)> StoredBatches { get; } = new();

    /// <summary>Batches stored (answered 2xx).</summary>
    public long Batches => Interlocked.Read(ref _batches);

    /// <summary>Events in the stored batches.</summary>
    public long Events => Interlocked.Read(ref _events);

    /// <summary>Requests refused by Segment's rules or answered with a non-2xx status.</summary>
    public long Refused => Interlocked.Read(ref _refused);

    /// <summary>Events of the kept requests answered 2xx.</summary>
    public IEnumerable<JsonObject> Delivered => Requests.Where(r => r.Status is >= 200 and < 300).SelectMany(r => r.Events);

    /// <summary>Starts a stand-in on its own loopback port (<c>http://127.0.0.1:{free port}/</c>).</summary>
    public static async Task<SegmentStandIn> StartAsync(SegmentStandInOptions? options = null)
    {
        var self = new SegmentStandIn(options);
        (self._app, self.Url) = await LoopbackServer.StartAsync("Segment stand-in", IPAddress.Loopback, 0, endpoints => self.Map(endpoints)).ConfigureAwait(false);
        return self;
    }

    /// <summary>Serves <c>{prefix}/v1/batch</c> in a host.</summary>
    public IEndpointConventionBuilder Map(IEndpointRouteBuilder endpoints, string prefix = "") =>
        endpoints.MapMethods(prefix + "/v1/batch", ["POST", "PUT", "GET"], HandleAsync);

    /// <summary>Answers one request.</summary>
    public async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        using var buffer = new MemoryStream();
        await request.Body.CopyToAsync(buffer, context.RequestAborted).ConfigureAwait(false);
        var body = buffer.ToArray();
        var verdict = SegmentBatchRules.Check(request.Method, request.Path, request.Headers.Authorization.ToString() is { Length: > 0 } auth ? auth : null, MediaType(request.ContentType), body);
        var headers = request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
        var received = new SegmentRequest(DateTimeOffset.UtcNow, request.Method, request.Path + request.QueryString, headers, body, verdict);
        if (_options.Latency > TimeSpan.Zero)
        {
            await Task.Delay(_options.Latency, context.RequestAborted).ConfigureAwait(false);
        }

        var answer = verdict.Accepted ? await Answer(received).ConfigureAwait(false) : new SegmentAnswer(verdict.Status);
        received.Status = answer.Status;
        if (answer.Status is >= 200 and < 300)
        {
            Store(received);
        }
        else
        {
            Interlocked.Increment(ref _refused);
        }

        if (_options.KeepRequests)
        {
            Requests.Enqueue(received);
        }

        context.Response.StatusCode = answer.Status;
        if (answer.RetryAfter is { } after)
        {
            context.Response.Headers.RetryAfter = ((int)after.TotalSeconds).ToString(CultureInfo.InvariantCulture);
        }

        context.Response.ContentType = "application/json";
        var reply = answer.Status is >= 200 and < 300 ? new JsonObject { ["success"] = true }
            : new JsonObject { ["success"] = false, ["error"] = verdict.Problem ?? "stand-in answers " + answer.Status.ToString(CultureInfo.InvariantCulture) };
        await context.Response.WriteAsync(reply.ToJsonString(), context.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>Stops the server started by <see cref="StartAsync"/>. Idempotent.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _app, null) is { } app)
        {
            await LoopbackServer.StopAsync(app).ConfigureAwait(false);
        }
    }

    private static string? MediaType(string? contentType) =>
        contentType is null ? null : contentType.Split(';', 2)[0].Trim();

    private void Store(SegmentRequest request)
    {
        var now = Stopwatch.GetTimestamp();
        foreach (var id in request.MessageIds)
        {
            Stored.AddOrUpdate(id, static (_, at) => (at, 1), static (_, old, _) => (old.FirstTimestamp, old.Count + 1), now);
        }

        StoredBatches.Enqueue((request.MessageIds.Count, request.Bytes));
        Interlocked.Increment(ref _batches);
        Interlocked.Add(ref _events, request.MessageIds.Count);
        if (CaptureFile is { } file)
        {
            lock (_captureLock)
            {
                Directory.CreateDirectory(Path.GetDirectoryName(file)!);
                using var stream = new FileStream(file, FileMode.Append, FileAccess.Write, FileShare.Read);
                stream.Write(request.RawBody);
                stream.Write("\n"u8);
            }

            _logger?.LogInformation("Segment stand-in: stored a batch of {Events} event(s), {Bytes} bytes, appended to {File}", request.MessageIds.Count, request.Bytes, file);
        }
    }
}
