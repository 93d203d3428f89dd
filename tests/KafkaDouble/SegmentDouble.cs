using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using CioSegment.DevDoubles.Segment;

namespace CioSegment.KafkaDouble;

/// <summary>What Segment (or the way to it) does with one batch request.</summary>
internal enum SegmentFault
{
    None,

    /// <summary>500: Segment failed; nothing was stored.</summary>
    ServerError,

    /// <summary>503 with <c>Retry-After: 1</c>.</summary>
    Unavailable,

    /// <summary>429 with <c>Retry-After: 1</c>: the workspace's rate limit.</summary>
    TooManyRequests,

    /// <summary>401: the write key is refused (a revoked key, until the operator fixes it).</summary>
    Unauthorized,

    /// <summary>404: no Segment API at the endpoint (a wrong <c>SegmentEndpoint</c>, a proxy).</summary>
    NotFound,

    /// <summary>No answer: the request waits until the client's timeout cancels it; nothing was stored.</summary>
    Timeout,

    /// <summary>Segment stored the batch, but its answer never arrived (the client sees a timeout).</summary>
    AcceptedButTimedOut,

    /// <summary>The connection was refused.</summary>
    ConnectionRefused,

    /// <summary>The HTTP stack failed in a way nobody planned for (an exception that is not an answer).</summary>
    Unexpected,
}

/// <summary>
/// Segment's <c>/v1/batch</c> as a message handler that answers at once, on the caller's thread, so a
/// simulation stays deterministic. It checks each request by Segment's rules (<see cref="SegmentBatchRules"/>,
/// shared with the HTTP stand-in) and for this source's write key and a <c>sentAt</c>, refuses with 400 any batch that holds an
/// event of <see cref="Refused"/> (as Segment refuses a batch with an invalid event), and counts, per
/// messageId, how often it was stored and in which order each was first stored.
/// </summary>
internal sealed class SegmentDouble(string writeKey)
{
    private readonly Dictionary<SegmentFault, int> _injected = [];

    /// <summary>The fault for the next request (None: answer as Segment does).</summary>
    public Func<SegmentFault> Fault { get; set; } = () => SegmentFault.None;

    /// <summary>messageIds whose events Segment refuses individually.</summary>
    public HashSet<string> Refused { get; } = [];

    /// <summary>How many times each messageId was stored.</summary>
    public Dictionary<string, int> Stored { get; } = [];

    /// <summary>messageIds in the order they were first stored.</summary>
    public List<string> FirstStored { get; } = [];

    /// <summary>Requests that were not what Segment accepts (wrong method, path, auth or body).</summary>
    public List<string> Malformed { get; } = [];

    public int Requests { get; private set; }

    public IReadOnlyDictionary<SegmentFault, int> Injected => _injected;

    /// <summary>A handler for one process: once <paramref name="alive"/> says no, its requests never complete (the process is gone).</summary>
    public HttpMessageHandler HandlerFor(Func<bool> alive) => new Handler(this, alive);

    private SegmentFault _next;

    /// <summary>Decides the next request's fault; true when it gets no answer at all.</summary>
    private bool Hangs()
    {
        Requests++;
        _next = Fault();
        if (_next != SegmentFault.None)
        {
            _injected[_next] = _injected.GetValueOrDefault(_next) + 1;
        }

        return _next == SegmentFault.Timeout;
    }

    private HttpResponseMessage Answer(HttpRequestMessage request)
    {
        var fault = _next;
        switch (fault)
        {
            case SegmentFault.ConnectionRefused:
                throw new HttpRequestException("Connection refused (api.segment.io:443)");
            case SegmentFault.Unexpected:
                throw new InvalidOperationException("The HTTP stack failed unexpectedly.");
            case SegmentFault.ServerError:
                return Status(HttpStatusCode.InternalServerError, "{\"error\":\"internal\"}");
            case SegmentFault.Unavailable:
                return Status(HttpStatusCode.ServiceUnavailable, "", retryAfter: 1);
            case SegmentFault.TooManyRequests:
                return Status(HttpStatusCode.TooManyRequests, "{\"error\":\"rate limit\"}", retryAfter: 1);
            case SegmentFault.Unauthorized:
                return Status(HttpStatusCode.Unauthorized, "{\"error\":\"invalid write key\"}");
            case SegmentFault.NotFound:
                return Status(HttpStatusCode.NotFound, "404 page not found");
        }

        var ids = Read(request);
        if (ids is null)
        {
            return Status(HttpStatusCode.BadRequest, "{\"error\":\"malformed request\"}");
        }

        if (ids.Any(Refused.Contains))
        {
            return Status(HttpStatusCode.BadRequest, "{\"error\":\"invalid event\"}");
        }

        foreach (var id in ids)
        {
            if (Stored.TryAdd(id, 1))
            {
                FirstStored.Add(id);
            }
            else
            {
                Stored[id]++;
            }
        }

        if (fault == SegmentFault.AcceptedButTimedOut)
        {
            throw new TaskCanceledException("The request was canceled due to the configured timeout.");
        }

        return Status(HttpStatusCode.OK, "{\"success\":true}");
    }

    /// <summary>The batch's messageIds, or null (recorded in <see cref="Malformed"/>) for a request Segment would refuse.</summary>
    private List<string>? Read(HttpRequestMessage request)
    {
        using var buffer = new MemoryStream();
        request.Content?.ReadAsStream().CopyTo(buffer);
        var body = buffer.ToArray();
        var verdict = SegmentBatchRules.Check(
            request.Method.Method,
            request.RequestUri?.AbsolutePath ?? "",
            request.Headers.Authorization?.ToString(),
            request.Content?.Headers.ContentType?.MediaType,
            body);
        var problem = verdict.Problem
            ?? (request.Headers.Authorization?.Parameter != Convert.ToBase64String(Encoding.UTF8.GetBytes(writeKey + ":")) ? "authorization" : null)
            ?? SentAtProblem(body);
        if (problem is not null)
        {
            Malformed.Add(problem);
            return null;
        }

        return [.. verdict.MessageIds];
    }

    /// <summary>Segment does not require <c>sentAt</c>, but our client always sends it (Segment corrects clock skew with it).</summary>
    private static string? SentAtProblem(byte[] body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            _ = document.RootElement.GetProperty("sentAt").GetDateTimeOffset();
            return null;
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            return "sentAt: " + e.Message;
        }
    }

    private static HttpResponseMessage Status(HttpStatusCode status, string body, int? retryAfter = null)
    {
        var response = new HttpResponseMessage(status) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        if (retryAfter is { } seconds)
        {
            response.Headers.RetryAfter = new RetryConditionHeaderValue(TimeSpan.FromSeconds(seconds));
        }

        return response;
    }

    private sealed class Handler(SegmentDouble segment, Func<bool> alive) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (!alive())
            {
                return new TaskCompletionSource<HttpResponseMessage>().Task;
            }

            if (segment.Hangs())
            {
                // Completes (canceled) when the client's timeout fires on the simulated clock, on that thread.
                var unanswered = new TaskCompletionSource<HttpResponseMessage>();
                cancellationToken.Register(() => unanswered.TrySetCanceled(cancellationToken));
                return unanswered.Task;
            }

            try
            {
                return Task.FromResult(segment.Answer(request));
            }
            catch (Exception e)
            {
                return Task.FromException<HttpResponseMessage>(e);
            }
        }
    }
}
