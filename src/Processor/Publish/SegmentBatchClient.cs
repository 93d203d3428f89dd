using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using CioSegment.Mapping.Settings;
using CioSegment.ServiceDefaults;

namespace CioSegment.Processor.Publish;

/// <summary>Where a source's batches go.</summary>
public interface ISegmentEndpoints
{
    Uri For(SourceSettings source);
}

/// <summary>The source's <c>SegmentEndpoint</c>, else its region's Segment endpoint.</summary>
public sealed class ConfiguredSegmentEndpoints : ISegmentEndpoints
{
    public Uri For(SourceSettings source) => source.EffectiveEndpoint;
}

/// <summary>How Segment answered a batch.</summary>
public enum BatchVerdict
{
    Accepted,

    /// <summary>Any answer but 2xx and 400 (see <see cref="SegmentBatchClient.IsRetriable"/>), timeouts and connection errors: send the same batch again later.</summary>
    Retry,

    /// <summary>400: the batch holds an event Segment will never accept; splitting isolates it.</summary>
    Rejected,
}

public readonly record struct BatchResponse(BatchVerdict Verdict, int Status, TimeSpan? RetryAfter, string Detail);

/// <summary>
/// POSTs <c>{endpoint}/v1/batch</c> with <c>{"batch":[...],"sentAt":"..."}</c>, built from the events'
/// pre-serialized JSON without re-serializing them, HTTP Basic auth with the source's write key, and the
/// headers Segment's own client (@segment/analytics-node) sends: <c>User-Agent</c>, and <c>X-Retry-Count</c>
/// on retries.
/// </summary>
public sealed class SegmentBatchClient(HttpClient http, ISegmentEndpoints endpoints, TimeProvider time)
{
    public const string ClientName = "segment";

    public const string RetryCountHeader = "X-Retry-Count";

    /// <summary><c>ciosegment/{version}</c>: the processor's informational version without SourceLink's <c>+commit</c>, else its assembly version.</summary>
    public static string UserAgent { get; } = "ciosegment/" + Telemetry.ServiceVersion(typeof(SegmentBatchClient).Assembly);

    private static ReadOnlySpan<byte> Head => "{\"batch\":["u8;

    /// <summary>Bytes the envelope adds around the events (head, commas, sentAt, tail).</summary>
    public static int EnvelopeBytes(int events) => Head.Length + Math.Max(0, events - 1) + "],\"sentAt\":\"2024-01-01T00:00:00.000Z\"}".Length;

    public static byte[] Body(IReadOnlyList<PendingEvent> events, DateTimeOffset sentAt)
    {
        var size = EnvelopeBytes(events.Count);
        foreach (var e in events)
        {
            size += e.TrackJson.Length;
        }

        var body = new byte[size];
        var span = body.AsSpan();
        Head.CopyTo(span);
        var n = Head.Length;
        for (var i = 0; i < events.Count; i++)
        {
            if (i > 0)
            {
                span[n++] = (byte)',';
            }

            events[i].TrackJson.CopyTo(span[n..]);
            n += events[i].TrackJson.Length;
        }

        n += Encoding.ASCII.GetBytes("],\"sentAt\":\"" + sentAt.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture) + "\"}", span[n..]);
        return n == body.Length ? body : body.AsSpan(0, n).ToArray();
    }

    /// <param name="retry">How many times this same batch was sent before: 0 on the first attempt, sent as <c>X-Retry-Count</c> when above 0.</param>
    public async Task<BatchResponse> SendAsync(SourceSettings source, IReadOnlyList<PendingEvent> events, int retry, TimeSpan timeout, CancellationToken cancel)
    {
        var endpoint = new Uri(endpoints.For(source).ToString().TrimEnd('/') + "/v1/batch");
        using var request = new HttpRequestMessage(HttpMethod.Post, endpoint)
        {
            Content = new ByteArrayContent(Body(events, time.GetUtcNow())),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(source.WriteKey!.Reveal() + ":")));
        request.Headers.TryAddWithoutValidation("User-Agent", UserAgent);
        if (retry > 0)
        {
            request.Headers.TryAddWithoutValidation(RetryCountHeader, retry.ToString(CultureInfo.InvariantCulture));
        }

        using var deadline = new CancellationTokenSource(timeout, time);
        using var timeoutSource = CancellationTokenSource.CreateLinkedTokenSource(cancel, deadline.Token);
        try
        {
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeoutSource.Token).ConfigureAwait(false);
            var status = (int)response.StatusCode;
            if (response.IsSuccessStatusCode)
            {
                return new BatchResponse(BatchVerdict.Accepted, status, null, "");
            }

            var detail = await ReadDetailAsync(response, timeoutSource.Token).ConfigureAwait(false);
            var retryAfter = response.Headers.RetryAfter is { } ra
                ? ra.Delta ?? (ra.Date is { } date ? date - time.GetUtcNow() : null)
                : null;
            var retriable = IsRetriable(status);
            return new BatchResponse(retriable ? BatchVerdict.Retry : BatchVerdict.Rejected, status, retryAfter, detail);
        }
        catch (OperationCanceledException) when (!cancel.IsCancellationRequested)
        {
            return new BatchResponse(BatchVerdict.Retry, 0, null, $"no answer within {timeout}");
        }
        catch (HttpRequestException e)
        {
            return new BatchResponse(BatchVerdict.Retry, 0, null, "connection error: " + e.Message);
        }
    }

    /// <summary>
    /// Whether an answer is about the request as a whole, so the same batch is sent again later instead of
    /// being split: everything but 400. Segment refuses individual events with 400 (oversize or invalid JSON)
    /// and nothing else; 408, 410, 429, 460 and 5xx are passing conditions (the set Segment's own client
    /// retries), and the rest would refuse every event of the source alike: 401/403 (write key wrong or
    /// revoked), 404/405 (no Segment API at the endpoint: a wrong <c>SegmentEndpoint</c>, a proxy), 413 (a
    /// proxy's body limit: batches are always within Segment's 500 KB), 501/505/511 and other 4xx (a proxy
    /// or gateway). Splitting those would multiply requests and dead-letter the whole stream; they are held
    /// and retried until the operator fixes the cause, and the alert on Segment errors pages for them.
    /// </summary>
    public static bool IsRetriable(int status) => status != 400;

    /// <summary>Segment's own client honours Retry-After up to this long.</summary>
    public static readonly TimeSpan MaxRetryAfter = TimeSpan.FromSeconds(300);

    private static async Task<string> ReadDetailAsync(HttpResponseMessage response, CancellationToken cancel)
    {
        try
        {
            var text = await response.Content.ReadAsStringAsync(cancel).ConfigureAwait(false);
            return text.Length > 1000 ? text[..1000] : text;
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException)
        {
            return "";
        }
    }
}
