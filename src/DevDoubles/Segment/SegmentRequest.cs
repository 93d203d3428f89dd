using System.Text.Json.Nodes;

namespace CioSegment.DevDoubles.Segment;

/// <summary>One request the Segment stand-in received, with the verdict of <see cref="SegmentBatchRules"/> and the answer it got.</summary>
public sealed class SegmentRequest
{
    private JsonObject? _body;
    private List<JsonObject>? _events;

    internal SegmentRequest(DateTimeOffset at, string method, string path, IReadOnlyDictionary<string, string> headers, byte[] rawBody, SegmentBatchVerdict verdict)
    {
        At = at;
        Method = method;
        Path = path;
        Headers = headers;
        RawBody = rawBody;
        Verdict = verdict;
    }

    /// <summary>When it arrived.</summary>
    public DateTimeOffset At { get; }

    /// <summary>The HTTP method.</summary>
    public string Method { get; }

    /// <summary>Path and query string.</summary>
    public string Path { get; }

    /// <summary>Every request header, names case-insensitive, repeated values comma-joined.</summary>
    public IReadOnlyDictionary<string, string> Headers { get; }

    /// <summary>The <c>Authorization</c> header, empty when there was none.</summary>
    public string Authorization => Headers.GetValueOrDefault("Authorization", "");

    /// <summary>What Segment's rules make of the request (its write key, messageIds, or why it is refused).</summary>
    public SegmentBatchVerdict Verdict { get; }

    /// <summary>The write key of the Basic auth, when there was one.</summary>
    public string? WriteKey => Verdict.WriteKey;

    /// <summary>The batch's messageIds as sent; empty when refused by the rules.</summary>
    public IReadOnlyList<string> MessageIds => Verdict.MessageIds;

    /// <summary>The body as received.</summary>
    public byte[] RawBody { get; }

    /// <summary>The body's size.</summary>
    public int Bytes => RawBody.Length;

    /// <summary>The body as a JSON object (parsed on first use; the request must be one Segment accepts).</summary>
    public JsonObject Body => _body ??= JsonNode.Parse(RawBody)!.AsObject();

    /// <summary>The batch's events (parsed on first use).</summary>
    public List<JsonObject> Events => _events ??= Body["batch"]!.AsArray().Select(e => e!.AsObject()).ToList();

    /// <summary>The status it was answered with.</summary>
    public int Status { get; internal set; }
}

/// <summary>How the stand-in answers a request Segment would accept.</summary>
/// <param name="Status">The HTTP status; 2xx means Segment stored the batch.</param>
/// <param name="RetryAfter">A <c>Retry-After</c> header, in whole seconds.</param>
public readonly record struct SegmentAnswer(int Status, TimeSpan? RetryAfter = null)
{
    /// <summary>200: stored.</summary>
    public static SegmentAnswer Ok { get; } = new(200);

    /// <summary>An answer with this status and no <c>Retry-After</c>.</summary>
    public static implicit operator SegmentAnswer(int status) => new(status);
}
